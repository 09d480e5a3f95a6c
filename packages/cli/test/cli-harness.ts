import { main } from '../src/main';

/** Runs the CLI in-process, capturing stdout and stderr (what the specs of packages/cli assert on). */
export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  try {
    const code = await main(argv, (s) => (out += s));
    return { code, out, err };
  } finally {
    spy.mockRestore();
  }
}
