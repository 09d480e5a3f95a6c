'use strict';
// An ipilab plugin for a site's own machines: a host preset read from `lscpu -J` output
// (`host: { preset: { name: lscpu, options: { file: site/lab-host.lscpu.json } } }`) and a
// calibration profile that puts the site's own measurements over a built-in profile
// (`calibration: { profile: { name: measured, options: { file: site/lab-costs.json } } }`).
//
// Both are data, not code: the two families ipilab reads once while assembling the model. A
// relative file is taken from this package's folder, where a site keeps its data beside the
// plugin; an absolute one from anywhere. Each figure of a measurements file names its source
// (which run, which tool), as every figure of a built-in profile does.
const { readFileSync } = require('node:fs');
const { isAbsolute, join } = require('node:path');
const { ContainerModule } = require('inversify');
const { z } = require('zod');
const { contributePolicy } = require('@ipilab/di');
const { hostPresets } = require('@ipilab/host');
const { calibrationProfiles, CALIBRATION_PROFILES, COST_NAMES } = require('@ipilab/calibration');

function readJson(file) {
  const path = isAbsolute(file) ? file : join(__dirname, file);
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`file: cannot read ${path} (${e.code ?? e.message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`file: ${path} is not JSON (${e.message})`);
  }
}

/** `lscpu -J`'s fields by name ("Socket(s):" -> "2"), flat (util-linux < 2.37) or nested under `children`. */
function lscpuFields(json, file) {
  if (json === null || typeof json !== 'object' || !Array.isArray(json.lscpu)) throw new Error(`file: ${file} is not lscpu -J output (no "lscpu" list)`);
  const fields = new Map();
  const walk = (list) => {
    for (const f of list) {
      if (f && typeof f.field === 'string') fields.set(f.field.replace(/:$/, ''), f.data);
      if (f && Array.isArray(f.children)) walk(f.children);
    }
  };
  walk(json.lscpu);
  return fields;
}

/** A host preset from lscpu's Socket(s), Core(s) per socket, Thread(s) per core and CPU max MHz. */
function hostFromLscpu(file) {
  const fields = lscpuFields(readJson(file), file);
  const count = (name) => {
    const v = Number(fields.get(name));
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`file: ${file}: "${name}" is ${JSON.stringify(fields.get(name))}, expected a whole number >= 1`);
    return v;
  };
  const mhz = Number(fields.get('CPU max MHz') ?? fields.get('CPU MHz'));
  if (!(Number.isFinite(mhz) && mhz > 0)) throw new Error(`file: ${file}: neither "CPU max MHz" nor "CPU MHz" gives a clock rate`);
  const model = String(fields.get('Model name') ?? 'unknown model');
  const sockets = count('Socket(s)');
  const coresPerSocket = count('Core(s) per socket');
  const threadsPerCore = count('Thread(s) per core');
  return {
    name: 'lscpu',
    description: `${model}, ${sockets} x ${coresPerSocket} cores x ${threadsPerCore} threads at ${mhz / 1000} GHz (lscpu -J: ${file})`,
    sockets,
    coresPerSocket,
    threadsPerCore,
    ghz: mhz / 1000,
  };
}

const figureSchema = z
  .object({ value: z.number().nonnegative().finite(), unit: z.enum(['cycles', 'ns', 'count', 'ratio']), source: z.string().min(1), estimate: z.string().min(1).optional() })
  .strict();
const measurementsSchema = z
  .object({ description: z.string().min(1), ghz: z.number().positive().finite().optional(), costs: z.partialRecord(z.enum(COST_NAMES), figureSchema) })
  .strict();

/** The base profile with the file's figures in place of its own (each with its unit and source). */
function measuredProfile(file, baseName) {
  const base = CALIBRATION_PROFILES[baseName];
  if (base === undefined) throw new Error(`base: no built-in calibration profile ${JSON.stringify(baseName)} (${Object.keys(CALIBRATION_PROFILES).join(', ')})`);
  const parsed = measurementsSchema.safeParse(readJson(file));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`file: ${file}: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  const m = parsed.data;
  return {
    ...base,
    name: 'measured',
    description: `${m.description} (over ${base.name})`,
    ghz: m.ghz ?? base.ghz,
    costs: { ...base.costs, ...m.costs },
  };
}

const lscpuOptions = {
  schema: z.object({ file: z.string().min(1) }).strict(),
  configure: (o) => hostFromLscpu(o.file),
};
const measuredOptions = {
  schema: z.object({ file: z.string().min(1), base: z.string().min(1).default('kvm-skylake-2018') }).strict(),
  configure: (o) => measuredProfile(o.file, o.base),
};

module.exports = new ContainerModule((bind) => {
  // A plain name picks the sample files shipped here.
  contributePolicy(bind, hostPresets, 'lscpu', hostFromLscpu('site/lab-host.lscpu.json'), lscpuOptions);
  contributePolicy(bind, calibrationProfiles, 'measured', measuredProfile('site/lab-costs.json', 'kvm-skylake-2018'), measuredOptions);
});
Object.assign(module.exports, { hostFromLscpu, measuredProfile, lscpuOptions, measuredOptions });
