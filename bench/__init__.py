"""ferrule's benchmarks: run `make bench` or `python bench/run.py --help`."""
