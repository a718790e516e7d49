"""Networks of the book (imports torch): Sketch-a-Net branches and the cross-domain ranking networks."""

from .sketchanet import PAPER_CONFIG, SketchANet, count_parameters, sketchanet_config
from .batchnorm import PretrainedBatchNorm
from .lite0_branch import Lite0Branch
from .small_cnn import SmallCNN
from .triplet import CrossDomainNet, heterogeneous, siamese

__all__ = ["PAPER_CONFIG", "SketchANet", "count_parameters", "sketchanet_config", "CrossDomainNet", "siamese",
           "heterogeneous", "SmallCNN", "Lite0Branch", "PretrainedBatchNorm"]
