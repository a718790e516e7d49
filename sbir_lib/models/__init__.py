"""Networks of the book (imports torch): Sketch-a-Net branches, the cross-domain ranking networks and the
SketchRNN variational autoencoder."""

from .sketchanet import PAPER_CONFIG, SketchANet, count_parameters, sketchanet_config
from .batchnorm import PretrainedBatchNorm
from .lite0_branch import Lite0Branch
from .small_cnn import SmallCNN
from .triplet import CrossDomainNet, heterogeneous, siamese
from .sketch_rnn import SketchRNN, kl_weight_at, mixture_log_prob, prepare_batch, train_sketch_rnn

__all__ = ["PAPER_CONFIG", "SketchANet", "count_parameters", "sketchanet_config", "CrossDomainNet", "siamese",
           "heterogeneous", "SmallCNN", "Lite0Branch", "PretrainedBatchNorm", "SketchRNN", "kl_weight_at",
           "mixture_log_prob", "prepare_batch", "train_sketch_rnn"]
