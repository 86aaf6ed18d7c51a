"""The lecture's claims, measured: accuracy on fresh scenes, localisation of gradient maps
(:mod:`.localisation`), image similarity (:mod:`.similarity`), class models under
transforms and inversion fidelity by depth; :mod:`.evaluate` gathers them for
``python -m lecturekit evaluate``."""
