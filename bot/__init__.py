"""Everything that talks to the outside world: HTTP, console, CLI, and the wiring."""
