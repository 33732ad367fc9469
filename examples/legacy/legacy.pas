// SPDX-License-Identifier: MIT
{ A legacy caller in Free Pascal: the declarations are exactly those of programs written against
  the old DLL, with the library name changed to 'shmring' (links with -lshmring).

    fpc -Fl<dir with libshmring.so> legacy.pas
    LD_LIBRARY_PATH=<that dir> ./legacy set     sets "This is a test string", waits for Enter
    LD_LIBRARY_PATH=<that dir> ./legacy get     prints the shared string
    LD_LIBRARY_PATH=<that dir> ./legacy check   checks the semantics in one process; exit 0 = ok }
program legacy;

{$mode delphi}

procedure SetSharedMem(lpszBuf: PChar); cdecl; external 'shmring';
procedure GetSharedMem(lpszBuf: PChar; cchSize: Integer); cdecl; external 'shmring';
{ Not in the old DLL: 0, or why the last call failed (a negative errno value). }
function shmring_compat_status: Integer; cdecl; external 'shmring';

const
  TestString = 'This is a test string';

var
  Failures: Integer = 0;

procedure Check(Ok: Boolean; const What: string);
begin
  if not Ok then
  begin
    WriteLn('FAILED: ', What);
    Inc(Failures);
  end;
end;

procedure DoSet;
begin
  SetSharedMem(TestString);
  WriteLn('String set. Press Enter to exit...');
  Flush(Output);
  ReadLn;
end;

procedure DoGet;
var
  Buf: array[0..255] of Char;
begin
  GetSharedMem(@Buf[0], SizeOf(Buf));
  WriteLn(PChar(@Buf[0]));
end;

procedure DoCheck;
var
  Buf: array[0..4095] of Char;
  Big: AnsiString;
  I: Integer;
begin
  { Before any set: the empty string. }
  FillChar(Buf, SizeOf(Buf), 'x');
  GetSharedMem(@Buf[0], SizeOf(Buf));
  Check(StrLen(PChar(@Buf[0])) = 0, 'empty before the first set');
  Check(shmring_compat_status = 0, 'status 0 after a get');

  SetSharedMem(TestString);
  Check(shmring_compat_status = 0, 'status 0 after a set');
  GetSharedMem(@Buf[0], SizeOf(Buf));
  Check(string(PChar(@Buf[0])) = TestString, 'get returns the string set');

  { Bounded copy: cchSize 5 gives 4 characters and a terminator; the next byte is untouched. }
  FillChar(Buf, SizeOf(Buf), 'x');
  GetSharedMem(@Buf[0], 5);
  Check((string(PChar(@Buf[0])) = 'This') and (Buf[5] = 'x'), 'cchSize 5 truncates to 4');
  { cchSize 0 and nil write nothing. }
  FillChar(Buf, SizeOf(Buf), 'x');
  GetSharedMem(@Buf[0], 0);
  Check(Buf[0] = 'x', 'cchSize 0 writes nothing');
  GetSharedMem(nil, 10);
  SetSharedMem(nil);
  GetSharedMem(@Buf[0], SizeOf(Buf));
  Check(string(PChar(@Buf[0])) = TestString, 'SetSharedMem(nil) is a no-op');

  { A string longer than the maximum (3072 bytes) is cut to it. }
  SetLength(Big, 5000);
  for I := 1 to Length(Big) do
    Big[I] := Chr(Ord('a') + I mod 26);
  SetSharedMem(PChar(Big));
  GetSharedMem(@Buf[0], SizeOf(Buf));
  Check(StrLen(PChar(@Buf[0])) = 3072, 'long strings are cut to 3072 bytes');
  Check(CompareByte(Buf[0], Big[1], 3072) = 0, 'the cut string is the prefix');

  SetSharedMem(TestString);
  if Failures = 0 then
    WriteLn('legacy check: ok');
end;

begin
  if ParamStr(1) = 'set' then
    DoSet
  else if ParamStr(1) = 'check' then
    DoCheck
  else
    DoGet;
  if Failures <> 0 then
    Halt(1);
end.
