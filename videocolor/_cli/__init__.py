"""Command-line subcommands: each module has ``main(argv) -> exit code`` and only calls the public API."""
