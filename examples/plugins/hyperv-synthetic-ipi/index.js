'use strict';
// An ipilab plugin, written as an outsider writes one: a Hyper-V-style synthetic-IPI backend
// (`hypervisor.backend: hyperv`), as a Windows or Linux guest uses it on Hyper-V, or on KVM with
// the Hyper-V enlightenments (arch/x86/kvm/hyperv.c kvm_hv_send_ipi).
//
// The guest side follows Linux's arch/x86/hyperv/hv_apic.c and the Hyper-V TLFS
// (HvCallSendSyntheticClusterIpi, HvCallSendSyntheticClusterIpiEx):
// - every target's VP index below 64: one *fast* hypercall, HVCALL_SEND_IPI, the vector and a
//   64-bit VP mask in registers (__send_ipi_mask -> hv_do_fast_hypercall16);
// - otherwise HVCALL_SEND_IPI_EX, a *rep* hypercall whose input is a VP set in memory: the
//   sparse 4K format, one 64-bit bank per group of 64 VP indices that holds a target
//   (cpumask_to_vpset), or HV_GENERIC_SET_ALL, no banks, when the targets are every present
//   vCPU (__send_ipi_mask_ex);
// - a self-IPI keeps the architectural path.
// The host then delivers to each target in turn, as for any hypercall-based send.
//
// Costs: the hypercall's exit and decoding are the calibration profile's `exitRoundTrip` and
// `hypercallHandling`. Reading the VP set from guest memory costs the host `perBankNs` per
// bank: an estimate (one 8-byte read from the hypercall input page, mapped and cached), not a
// measurement; it is this plugin's option so a user can set it.

const { ContainerModule } = require('inversify');
const { contributePolicy } = require('@ipilab/di');
const { ipiBackends } = require('@ipilab/hypervisor');

/** Estimate: host ns to read one 64-bit VP bank of HVCALL_SEND_IPI_EX's input. */
const DEFAULT_PER_BANK_NS = 10;

/** How a send is made: the hypercall, its name in events, and the banks its input holds. */
function plan(vm, targets) {
  const vps = targets.map((t) => t.index);
  if (vps.every((vp) => vp < 64)) return { name: 'HVCALL_SEND_IPI', fast: true, banks: 0 };
  // Every present vCPU, the sender included: HV_GENERIC_SET_ALL, no banks to read.
  if (targets.length === vm.vcpus.length) return { name: 'HVCALL_SEND_IPI_EX', fast: false, banks: 0 };
  return { name: 'HVCALL_SEND_IPI_EX', fast: false, banks: new Set(vps.map((vp) => vp >> 6)).size };
}

class HyperVSyntheticIpiBackend {
  constructor(host, vm, options = {}) {
    this.name = 'hyperv';
    this.host = host;
    this.vm = vm;
    this.perBankNs = options.perBankNs ?? DEFAULT_PER_BANK_NS;
  }

  send(req, done) {
    const host = this.host;
    if (req.kind === 'self') {
      host.selfIpi(req.sender, req.vector, req.id, done);
      return;
    }
    const p = plan(this.vm, req.targets);
    const c = host.costs;
    if (host.sink.wants['hypercall']) host.sink.emit({ type: 'hypercall', t: host.clock.now, vcpu: req.sender.ref, name: p.name, targets: req.targets.length });
    host.exit(
      req.sender,
      'hypercall',
      c.exitRoundTrip + c.hypercallHandling + p.banks * this.perBankNs,
      (reenter) => host.deliverAll(req.sender, req.targets, req.vector, req.id, reenter),
      done,
    );
  }
}

/** The factory a scenario's `hypervisor.backend: hyperv` picks. */
const hypervBackend = (host, vm) => new HyperVSyntheticIpiBackend(host, vm);

module.exports = new ContainerModule((options) => {
  contributePolicy(options, ipiBackends, 'hyperv', hypervBackend);
});
module.exports.HyperVSyntheticIpiBackend = HyperVSyntheticIpiBackend;
module.exports.hypervBackend = hypervBackend;
module.exports.plan = plan;
