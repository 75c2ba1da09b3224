// SPDX-License-Identifier: MIT
using System.CommandLine;

var root = new RootCommand("toa: real client addresses behind layer-4 load balancers (TCP Option Address), without a kernel module.");
return root.Parse(args).Invoke();
