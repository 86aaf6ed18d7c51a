"""The lecture's first half: which pixels matter to a unit, found with one backward pass.

:mod:`.gradients` (input gradients of any target, the pseudo-loss idea),
:mod:`.backward_rules` (backprop, Deconvnet and guided backprop at every ReLU),
:mod:`.saliency` (Simonyan et al.'s saliency maps), :mod:`.deconvnet` (Zeiler &
Fergus' reverse network with unpooling switches) and :mod:`.top9` (the
strongest activations of a unit, with their projections and patches).
"""
