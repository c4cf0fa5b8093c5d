"""Phase 1a across processes: `accelerate launch --multi_gpu --num_processes N scripts/phase1a.py --out DIR [options]`
(one process: `python scripts/phase1a.py --out DIR`). Options: `python scripts/phase1a.py --help`."""
from dcm_lab.store import phase1a_main

if __name__ == "__main__": phase1a_main()
