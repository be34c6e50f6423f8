"""`python -m avsbench_robust`: the same CLI as the `avsb-robust` script."""
from .cli import main

main()
