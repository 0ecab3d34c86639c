"""Task graphs on the request-level machine: an xPU as a MachineSpec, graphs as op streams."""
