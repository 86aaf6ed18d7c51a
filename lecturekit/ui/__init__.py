"""The user interface: figures (:mod:`.plot`, matplotlib) and explorers (:mod:`.widgets`,
ipywidgets), and the ``figures`` command's registry (:mod:`.figures`). Nothing in the
numeric core imports this package."""
