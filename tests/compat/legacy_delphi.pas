// SPDX-License-Identifier: MIT
{ A Delphi 6 program of the legacy pair, against the real shmring.dll (issue #12): the two
  imports carry NO calling-convention directive, so they use Delphi's default `register` (EAX,
  EDX, ECX), which Free Pascal in Delphi mode also uses on i386; PChar is an ANSI string.

    legacy_delphi set   sets Text, prints one line, and stays alive until a line (or the end) of
                        standard input: the classic setter, for tests/compat/legacy_run.c
    legacy_delphi get   gets the value and prints it, every byte above 127 as \xNN

  Text has characters outside ASCII that code page 1252 has (e-acute 0xE9, the euro sign 0x80):
  a C caller of the wide forms sees U+00E9 and U+20AC, so both conversions (ANSI in the
  process's code page to the stored UTF-8 and back, and UTF-16) are proven across processes. }
program legacy_delphi;
{$mode delphi}
{$apptype console}

const
  Lib = 'shmring.dll';
  Text = 'This is a test string: caf'#233' '#128'5';

procedure SetSharedMem(lpszBuf: PChar); external Lib;
procedure GetSharedMem(lpszBuf: PChar; cchSize: Integer); external Lib;

var
  buf: array[0..4095] of Char;
  i: Integer;
  line: string;

const
  Hex: array[0..15] of Char = '0123456789abcdef';

begin
  if ParamStr(1) = 'set' then
  begin
    SetSharedMem(Text);
    WriteLn('String set. Press Enter to exit...');
    Flush(Output);
    if not Eof(Input) then
      ReadLn(line);
    Halt(0);
  end
  else if ParamStr(1) = 'get' then
  begin
    FillChar(buf, SizeOf(buf), Ord('#'));
    GetSharedMem(buf, SizeOf(buf));
    i := 0;
    while (i < SizeOf(buf)) and (buf[i] <> #0) do
    begin
      if Ord(buf[i]) < 128 then
        Write(buf[i])
      else
        Write('\x', Hex[Ord(buf[i]) shr 4], Hex[Ord(buf[i]) and 15]);
      Inc(i);
    end;
    WriteLn;
    if i = SizeOf(buf) then
      Halt(3); { no terminating NUL }
    Halt(0);
  end;
  WriteLn('usage: legacy_delphi set|get');
  Halt(2);
end.
