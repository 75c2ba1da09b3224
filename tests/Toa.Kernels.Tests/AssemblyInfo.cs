// SPDX-License-Identifier: MIT
// One test at a time: the refusal tests count this process's BPF file descriptors, which a
// test running beside them would change.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
