// SPDX-License-Identifier: MIT
{ A Delphi 6 style caller of shmabi.dll (tests/win/abi_dll.h): the imports carry NO calling
  convention directive, so they use Delphi's default `register` convention (EAX, EDX, ECX), which
  Free Pascal also uses on i386. If the DLL's regparm(3) exports did not match it, the strings
  would not round-trip (or the program would crash) and AbiProbe would not return 123. }
program test_abi_delphi;
{$mode delphi}
{$apptype console}

const
{$if defined(MISMATCH)}
  Lib = 'shmabi_mismatch.dll'; { negative control: register forms built as cdecl }
{$elseif defined(SHMRING)}
  Lib = 'shmring.dll'; { src/win/compat_win.c's exports (tests/win: over a stand-in store) }
{$else}
  Lib = 'shmabi.dll';
{$ifend}

procedure SetSharedMem(lpszBuf: PChar); external Lib;
procedure GetSharedMem(lpszBuf: PChar; cchSize: Integer); external Lib;
{$ifndef SHMRING}
function AbiProbe(a, b, c: Integer): Integer; external Lib;
{$endif}
procedure SetSharedMemW(lpszBuf: PWideChar); cdecl; external Lib;
procedure GetSharedMemW(lpszBuf: PWideChar; cchSize: Integer); cdecl; external Lib;

var
  passed, failed: Integer;
  buf: array[0..255] of AnsiChar;
  wbuf: array[0..63] of WideChar;

function Str(const b: array of AnsiChar): AnsiString;
begin
  Result := PAnsiChar(@b[0]);
end;

procedure Check(ok: Boolean; const what: string);
begin
  if ok then
  begin
    Inc(passed);
    WriteLn('ok - ', what);
  end
  else
  begin
    Inc(failed);
    WriteLn('FAIL - ', what);
  end;
end;

procedure StringChecks;
begin
  SetSharedMem('hello from Delphi');
  FillChar(buf, SizeOf(buf), Ord('#'));
  GetSharedMem(buf, SizeOf(buf));
  Check(Str(buf) = 'hello from Delphi', 'SetSharedMem then GetSharedMem round trip');

  FillChar(buf, SizeOf(buf), Ord('#'));
  GetSharedMem(buf, 6);
  Check((Str(buf) = 'hello') and (buf[6] = '#'), 'cchSize (EDX) bounds the copy: 5 chars');

  SetSharedMem('');
  GetSharedMem(buf, SizeOf(buf));
  Check(buf[0] = #0, 'empty value');

  SetSharedMemW('set by the wide cdecl form');
  GetSharedMem(buf, SizeOf(buf));
  Check(Str(buf) = 'set by the wide cdecl form', 'one value: set W, get register form');

  SetSharedMem('set by the register form');
  GetSharedMemW(wbuf, Length(wbuf));
  Check(WideString(PWideChar(@wbuf[0])) = 'set by the register form', 'one value: set register, get W');
end;

begin
  passed := 0;
  failed := 0;
  Check(SizeOf(Pointer) = 4, '32-bit program');
{$ifndef SHMRING}
  Check(AbiProbe(1, 2, 3) = 123, 'three register arguments in order (EAX, EDX, ECX)');
  Check(AbiProbe(-4, 0, 7) = -393, 'negative register argument');
{$endif}
  { --probe-only: the negative control (a cdecl DLL) must fail above, without touching pointers. }
  if ParamStr(1) <> '--probe-only' then
    StringChecks;
  WriteLn(passed, ' passed, ', failed, ' failed');
  if failed > 0 then
    Halt(1);
end.
