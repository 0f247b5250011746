from edgemnist.cli import run

run()
