// Tiny test runner shared by the SDK conformance scripts: each case runs
// in order, a failure prints the case and the error, and the process exits
// non-zero when any case failed (the Go test reads the output).
export const env = {
  base: process.env.SWITCHYARD_BASE,
  key: process.env.SWITCHYARD_KEY,
  model: process.env.SWITCHYARD_MODEL,
};
if (!env.base || !env.key || !env.model) {
  console.error("set SWITCHYARD_BASE, SWITCHYARD_KEY and SWITCHYARD_MODEL");
  process.exit(2);
}

const cases = [];
export function test(name, fn) { cases.push([name, fn]); }

export function eq(got, want, what) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}
export function ok(cond, what) { if (!cond) throw new Error(what); }

export async function rejects(fn, Class, status, what) {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof Class)) throw new Error(`${what}: got ${e && e.constructor && e.constructor.name} (${e}), want ${Class.name}`);
    if (status !== undefined && e.status !== status) throw new Error(`${what}: status ${e.status}, want ${status}`);
    return e;
  }
  throw new Error(`${what}: no error`);
}

export async function run() {
  let failed = 0;
  for (const [name, fn] of cases) {
    try {
      await fn();
      console.log(`ok   ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e && e.stack || e}`);
    }
  }
  console.log(`${cases.length - failed}/${cases.length} passed`);
  process.exit(failed ? 1 : 0);
}
