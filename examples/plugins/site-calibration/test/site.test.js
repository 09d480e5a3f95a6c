'use strict';
// Run with `npm test` (node's own test runner): the data laws of @ipilab/testing on the preset
// and the profile, as configured from the sample files, and from any files a site writes.
const test = require('node:test');
const assert = require('node:assert/strict');
const { mkdtempSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const fc = require('fast-check');
const { assertHostPresetLaws, assertCalibrationProfileLaws, configureProperties } = require('@ipilab/testing');
const { hostFromLscpu, measuredProfile, lscpuOptions, measuredOptions } = require('..');

configureProperties();
const dir = mkdtempSync(join(tmpdir(), 'site-calibration-'));

test('the sample host and profile keep the host-preset and calibration-profile laws', () => {
  assertHostPresetLaws(hostFromLscpu('site/lab-host.lscpu.json'));
  assertCalibrationProfileLaws(measuredProfile('site/lab-costs.json', 'kvm-skylake-2018'));
  assertCalibrationProfileLaws(measuredProfile('site/lab-costs.json', 'kvm-epyc-2021'));
});

test('any lscpu -J output (flat or nested) within ipilab\'s 288 CPUs gives a preset that keeps the law', () => {
  let n = 0;
  const lscpu = fc
    .record({ sockets: fc.integer({ min: 1, max: 4 }), cores: fc.integer({ min: 1, max: 36 }), threads: fc.integer({ min: 1, max: 2 }), mhz: fc.integer({ min: 1000, max: 5000 }), nested: fc.boolean() })
    .filter((h) => h.sockets * h.cores * h.threads <= 288)
    .map((h) => {
      const fields = [
        { field: 'Thread(s) per core:', data: String(h.threads) },
        { field: 'Core(s) per socket:', data: String(h.cores) },
        { field: 'Socket(s):', data: String(h.sockets) },
        { field: 'CPU max MHz:', data: `${h.mhz}.0000` },
      ];
      const file = join(dir, `h${n++}.json`);
      writeFileSync(file, JSON.stringify({ lscpu: h.nested ? [{ field: 'Vendor ID:', data: 'x', children: fields }] : fields }));
      return { file };
    });
  assertHostPresetLaws({ options: lscpuOptions, arbitrary: lscpu });
});

test('a measurements file\'s figures replace the base\'s, and one without a source is refused naming the field', () => {
  const p = measuredProfile('site/lab-costs.json', 'kvm-skylake-2018');
  assert.equal(p.costs.exitRoundTrip.value, 1400);
  assert.match(p.costs.exitRoundTrip.source, /vmexit\.flat/);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ description: 'x', costs: { exitRoundTrip: { value: 1, unit: 'cycles' } } }));
  assert.throws(() => measuredProfile(bad, 'kvm-skylake-2018'), /costs\.exitRoundTrip\.source/);
  assert.throws(() => measuredOptions.configure({ file: 'site/lab-costs.json', base: 'kvm-nowhere' }), /base: no built-in calibration profile "kvm-nowhere"/);
});
