"""Diffuser training across processes:
`accelerate launch --multi_gpu --num_processes N scripts/train_diffuser.py --targets STORE --out CKPT …`
(one process: `python scripts/train_diffuser.py …`). Each process draws its own batch, so a step sees
N × batch_size rows (the effective batch, printed and recorded in the checkpoint).
Options: `python scripts/train_diffuser.py --help`."""
from dcm_lab.phase2 import diffuser_main

if __name__ == "__main__": diffuser_main()
