"""A notebook-first research lab for the Dynamic Context Memory architecture

Modules:

- `dcm_lab.diffusion`: A conditional diffusion transformer over the K content slots, with cross-attention to the input embeddings, trained on Phase 1a targets; inference Q → noise → denoise → [A_mode ; content] → Generator → answer. The road: generator → encoder → targets → diagnostics → knowledge → **diffusion** → phase 2 → evaluation → tasks → memory.
- `dcm_lab.evaluation`: The five baselines and the Diffuser through one scorer; interpolation, transfer, the compression/quality trade-off over K, and interpretability probes — with bootstrap intervals over examples and spread over seeds. The road: generator → encoder → targets → diagnostics → knowledge → diffusion → phase 2 → **evaluation** → tasks → memory.
- `dcm_lab.study`: Can a Diffuser produce an STM that lets the frozen Generator answer held-out questions about as well as the full prompt, at a fraction of the positions? Two arms — closed-book facts and SQuAD passages — every method of the v1 evaluation on the same held-out items, read one way, oracles apart, and per-item paired differences against the answer prior and the full context."""

__version__ = "0.1.0"
