"""`python -m orderchat.bench` is `orderchat bench`."""

from orderchat.cli.bench import bench_main

if __name__ == "__main__":
    bench_main()
