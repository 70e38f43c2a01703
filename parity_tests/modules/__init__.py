"""What every module shares: the module protocol, containers, state, constructor
arguments and errors."""
