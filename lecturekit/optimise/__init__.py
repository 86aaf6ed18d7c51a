"""The lecture's second half: change the input until the network responds as asked.

:mod:`.loop` (the one optimisation loop), :mod:`.priors` and
:mod:`.regularisers` (L2 and alpha-norm, total variation, low-pass, wavelet),
:mod:`.transforms` (transform robustness: jitter, scale, rotate),
:mod:`.learned_prior`, and the recipes over the loop: :mod:`.deepdream`
(inceptionism and activation maximisation), :mod:`.class_model` (Simonyan et
al.'s class models) and :mod:`.inversion` (Mahendran & Vedaldi's inversion).
"""
