// SPDX-License-Identifier: MIT
// One test at a time: the matrix keeps both cores busy, and the refusal tests count this
// process's BPF file descriptors, which a test running beside them would change.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
