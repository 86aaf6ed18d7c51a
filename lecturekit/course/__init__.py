"""Course tooling around the kit: homework checks (:mod:`.checks`), the exercise builder
(:mod:`.exercises`), training the toy network (:mod:`.toy_training`) and the command line
(:mod:`.cli`)."""
