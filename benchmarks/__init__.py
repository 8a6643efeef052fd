"""Performance benchmarks: `python -m benchmarks [--quick] [--only NAME ...] [--no-demo]`."""
