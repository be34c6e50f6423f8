"""AVSegFormer (Gao et al., AAAI 2024) in plain PyTorch, key-for-key compatible with the original checkpoints.

Audio (VGGish 128-d per frame) -> audio query generator -> transformer encoder with multi-scale deformable
attention over backbone stages 2-4 -> transformer decoder (queries attend to the encoded pixels) ->
mask feature (stage-1 lateral + encoded stage 2, gated by the cross-modal mixer) -> query-weighted mask
MLP -> per-pixel classifier. The backbone and VGGish are injected modules (the project's B2_ResNet /
PVT-v2-b5 / VGGish); their state dicts sit under `backbone.` and `vggish.` exactly as in the original.
The module names below (`head.fpn`, `head.attn_fc` included, though the original never calls them)
are what lets the released checkpoints load with `strict=True`.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from avsbench_robust.errors import InputFileError
from avsbench_robust.models.backbones import build_backbone
from avsbench_robust.models.cgsl import CGSL, similarity
from avsbench_robust.models.configs import ModelConfig
from avsbench_robust.models.msdeform_attn import MSDeformAttn
from avsbench_robust.models.pretrained import read_state_dict
from avsbench_robust.models.tpavi import AVSOutput
from avsbench_robust.models.vggish import vggish
from avsbench_robust.types import Subset

# ---------------------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class AVSegFormerConfig:
    """Every size the architecture depends on; defaults are the published S4 model."""

    num_classes: int = 1
    frames: int = 5  # T: frames per clip (10 for AVSS); the network itself treats frames independently
    in_channels: tuple[int, ...] = (256, 512, 1024, 2048)  # backbone stages 1-4 (strides 4, 8, 16, 32)
    embed_dim: int = 256
    num_heads: int = 8
    query_num: int = 300
    query_layers: int = 6
    query_ffn_dim: int = 1024
    encoder_layers: int = 6
    decoder_layers: int = 6
    ffn_dim: int = 2048
    dropout: float = 0.1
    n_points: int = 4
    mask_mlp_dim: int = 2048
    head_dims: tuple[int, int] = (128, 32)  # hidden widths of the per-pixel classifier `head.fc`
    audio_dim: int = 128
    use_learnable_queries: bool = True

    def __post_init__(self) -> None:
        if len(self.in_channels) != 4:
            raise ValueError(f"AVSegFormer needs 4 backbone stages, got in_channels={self.in_channels}")
        if self.embed_dim % 32 or self.embed_dim % self.num_heads or self.embed_dim % 2:
            raise ValueError(f"embed_dim {self.embed_dim} must be a multiple of 32 (GroupNorm) and of num_heads")


#: backbone name -> channels of its 4 stages
BACKBONE_CHANNELS: dict[str, tuple[int, ...]] = {
    "resnet50": (256, 512, 1024, 2048),
    "pvt_v2_b5": (64, 128, 320, 512),
}


def avsegformer_config(subset: Subset | str, backbone: str = "pvt_v2_b5") -> AVSegFormerConfig:
    """The published configuration for a subset and backbone (config/<task>/AVSegFormer_*.py)."""
    subset = Subset.parse(subset)
    if backbone not in BACKBONE_CHANNELS:
        raise ValueError(f"unknown backbone {backbone!r} (expected one of: {', '.join(BACKBONE_CHANNELS)})")
    return AVSegFormerConfig(
        num_classes=71 if subset.is_semantic else 1,
        frames=10 if subset.is_semantic else 5,
        in_channels=BACKBONE_CHANNELS[backbone],
    )


def small_avsegformer_config(subset: Subset | str, in_channels: Sequence[int]) -> AVSegFormerConfig:
    """A narrow variant (d_model 32, one encoder/decoder layer, 16 queries) for CPU tests and the demo.

    `in_channels` are the stage widths of whatever narrow backbone it is paired with.
    """
    base = avsegformer_config(subset)
    return replace(
        base,
        in_channels=tuple(int(c) for c in in_channels),
        embed_dim=32,
        num_heads=4,
        query_num=16,
        query_layers=1,
        query_ffn_dim=64,
        encoder_layers=1,
        decoder_layers=1,
        ffn_dim=64,
        n_points=2,
        mask_mlp_dim=64,
        head_dims=(32, 16),
    )


# ---------------------------------------------------------------------------------------------------------
# building blocks


class Upsample(nn.Module):
    """Parameter-free bilinear resize by a fixed factor, so it can sit inside nn.Sequential at its index."""

    def __init__(self, scale_factor: float) -> None:
        super().__init__()
        self.scale_factor = scale_factor

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=self.scale_factor, mode="bilinear", align_corners=False)


def sine_position_embedding(h: int, w: int, num_feats: int, device: torch.device, temperature: float = 1e4) -> Tensor:
    """DETR sine embedding of an unpadded h x w grid: [1, 2*num_feats, h, w] (y half first, then x).

    Positions count from 1 (cumulative sum of the all-valid mask) and are not normalised, as in the original.
    """
    y = torch.arange(1, h + 1, dtype=torch.float32, device=device)
    x = torch.arange(1, w + 1, dtype=torch.float32, device=device)
    k = torch.arange(num_feats, dtype=torch.float32, device=device)
    dim_t = temperature ** (2 * torch.div(k, 2, rounding_mode="floor") / num_feats)

    def encode(pos: Tensor) -> Tensor:  # [n] -> [n, num_feats]: sin on even channels, cos on odd ones
        angles = pos[:, None] / dim_t
        return torch.stack((angles[:, 0::2].sin(), angles[:, 1::2].cos()), dim=2).flatten(1)

    pos_y = encode(y)[:, None, :].expand(h, w, num_feats)
    pos_x = encode(x)[None, :, :].expand(h, w, num_feats)
    return torch.cat((pos_y, pos_x), dim=2).permute(2, 0, 1).unsqueeze(0)


def _grid_reference_points(spatial_shapes: Sequence[tuple[int, int]], device: torch.device) -> Tensor:
    """Pixel-centre (x, y) of every token in [0, 1], repeated for each level: [1, sum HW, L, 2]."""
    refs = []
    for h, w in spatial_shapes:
        ys = (torch.arange(h, dtype=torch.float32, device=device) + 0.5) / h
        xs = (torch.arange(w, dtype=torch.float32, device=device) + 0.5) / w
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        refs.append(torch.stack((grid_x.reshape(-1), grid_y.reshape(-1)), -1))
    return torch.cat(refs, 0)[None, :, None, :].expand(1, -1, len(spatial_shapes), 2)


class QueryLayer(nn.Module):
    """Queries attend to themselves, then to the frame's audio token (post-norm, bias-free attention)."""

    def __init__(self, dim: int, heads: int, ffn_dim: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, bias=False, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(dim, heads, bias=False, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.GELU(), nn.Linear(ffn_dim, dim))
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, query: Tensor, audio: Tensor) -> Tensor:
        query = self.norm1(query + self.self_attn(query, query, query, need_weights=False)[0])
        query = self.norm2(query + self.cross_attn(query, audio, audio, need_weights=False)[0])
        return self.norm3(query + self.ffn(query))


class AudioQueryGenerator(nn.Module):
    """Turns the projected audio token of each frame into `query_num` audio-conditioned queries."""

    def __init__(self, num_layers: int, query_num: int, dim: int, heads: int, ffn_dim: int) -> None:
        super().__init__()
        self.query = nn.Embedding(query_num, dim)
        self.layers = nn.ModuleList([QueryLayer(dim, heads, ffn_dim) for _ in range(num_layers)])
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, audio: Tensor) -> Tensor:
        query = self.query.weight[None].expand(audio.shape[0], -1, -1)
        for layer in self.layers:
            query = layer(query, audio)
        return query


class EncoderLayer(nn.Module):
    """Deformable self-attention over all levels, then a GELU FFN (post-norm)."""

    def __init__(self, dim: int, ffn_dim: int, dropout: float, levels: int, heads: int, points: int) -> None:
        super().__init__()
        self.self_attn = MSDeformAttn(dim, levels, heads, points)
        self.dropout1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.dropout2 = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.dropout3 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, src: Tensor, pos: Tensor, ref: Tensor, shapes: Sequence[tuple[int, int]]) -> Tensor:
        src = self.norm1(src + self.dropout1(self.self_attn(src + pos, ref, src, shapes)))
        ffn = self.linear2(self.dropout2(F.gelu(self.linear1(src))))
        return self.norm2(src + self.dropout3(ffn))


class Encoder(nn.Module):
    def __init__(self, num_layers: int, **layer: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList([EncoderLayer(**layer) for _ in range(num_layers)])  # type: ignore[arg-type]
        self._ref_cache: dict[tuple, Tensor] = {}

    def forward(self, src: Tensor, pos: Tensor, shapes: Sequence[tuple[int, int]]) -> Tensor:
        key = (tuple(shapes), src.device)
        ref = self._ref_cache.get(key)
        if ref is None:
            with torch.inference_mode(False):  # a cache made under inference_mode would break later training
                ref = self._ref_cache[key] = _grid_reference_points(shapes, src.device)
        for layer in self.layers:
            src = layer(src, pos, ref, shapes)
        return src


class DecoderLayer(nn.Module):
    """Query self-attention, dense cross-attention to the encoded pixels (no positional term), FFN."""

    def __init__(self, dim: int, ffn_dim: int, dropout: float, heads: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.dropout1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.dropout2 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.dropout3 = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.dropout4 = nn.Dropout(dropout)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, query: Tensor, memory: Tensor) -> Tensor:
        query = self.norm1(query + self.dropout1(self.self_attn(query, query, query, need_weights=False)[0]))
        query = self.norm2(query + self.dropout2(self.cross_attn(query, memory, memory, need_weights=False)[0]))
        ffn = self.linear2(self.dropout3(F.gelu(self.linear1(query))))
        return self.norm3(query + self.dropout4(ffn))


class Decoder(nn.Module):
    def __init__(self, num_layers: int, **layer: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList([DecoderLayer(**layer) for _ in range(num_layers)])  # type: ignore[arg-type]

    def forward(self, query: Tensor, memory: Tensor) -> Tensor:
        for layer in self.layers:
            query = layer(query, memory)
        return query  # the original keeps every layer's output but only uses the last


class Transformer(nn.Module):
    def __init__(self, cfg: AVSegFormerConfig, levels: int) -> None:
        super().__init__()
        dim, ffn, drop, heads = cfg.embed_dim, cfg.ffn_dim, cfg.dropout, cfg.num_heads
        self.encoder = Encoder(
            cfg.encoder_layers, dim=dim, ffn_dim=ffn, dropout=drop, levels=levels, heads=heads, points=cfg.n_points
        )
        self.decoder = Decoder(cfg.decoder_layers, dim=dim, ffn_dim=ffn, dropout=drop, heads=heads)


class CrossModalMixer(nn.Module):
    """Channel gate from audio: the audio token attends over all pixels, sigmoid of the result scales channels."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.kv_proj = nn.Linear(dim, 2 * dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, feature_map: Tensor, audio: Tensor) -> Tensor:
        n, c, h, w = feature_map.shape
        d = c // self.heads
        pixels = feature_map.flatten(2).transpose(1, 2)  # [N, HW, C]
        q = self.q_proj(audio).view(n, 1, self.heads, d).transpose(1, 2)  # [N, heads, 1, d]
        k, v = self.kv_proj(pixels).view(n, h * w, 2, self.heads, d).permute(2, 0, 3, 1, 4)
        mixed = F.scaled_dot_product_attention(q, k, v)  # scale 1/sqrt(d), as the original
        gate = self.proj(mixed.transpose(1, 2).reshape(n, 1, c)).sigmoid()
        return feature_map * gate.view(n, c, 1, 1)


class MaskMLP(nn.Module):
    """1x1-conv MLP from the per-query response maps to embed_dim channels."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, num_layers: int = 3) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Conv2d(a, b, kernel_size=1) for a, b in itertools.pairwise(dims))

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


class SimpleFPN(nn.Module):
    """Built (and saved in every checkpoint) but never called by the original forward; kept for strict loading."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.up1 = nn.Sequential(Upsample(2), nn.Conv2d(channels, channels, 3, padding=1))
        self.up2 = nn.Sequential(Upsample(2), nn.Conv2d(channels, channels, 3, padding=1))
        self.up3 = nn.Sequential(Upsample(2), nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        x = self.up1(feats[-1]) + feats[-2]
        x = self.up2(x) + feats[-3]
        return self.up3(x)


def _pixel_classifier(dim: int, hidden: tuple[int, int], num_classes: int, scale: int) -> nn.Sequential:
    """conv3x3 -> x`scale` bilinear -> conv3x3 -> ReLU -> bias-free conv1x1 (indices 0..4 as in the checkpoints)."""
    return nn.Sequential(
        nn.Conv2d(dim, hidden[0], 3, padding=1),
        Upsample(scale),
        nn.Conv2d(hidden[0], hidden[1], 3, padding=1),
        nn.ReLU(True),
        nn.Conv2d(hidden[1], num_classes, 1, bias=False),
    )


def _proj_gn(c_in: int, c_out: int, kernel: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), nn.GroupNorm(32, c_out)]


class AVSegFormerHead(nn.Module):
    """Everything between the backbone features / audio token and the mask logits (the original AVSegHead)."""

    valid_indices = (1, 2, 3)  # stages fed to the transformer; stage 0 only feeds the lateral branch
    scale_factor = 4

    def __init__(self, cfg: AVSegFormerConfig) -> None:
        super().__init__()
        dim, levels = cfg.embed_dim, len(self.valid_indices)
        self.cfg = cfg
        self.level_embed = nn.Parameter(torch.empty(levels, dim))
        self.learnable_query = nn.Embedding(cfg.query_num, dim)
        self.query_generator = AudioQueryGenerator(
            cfg.query_layers, cfg.query_num, dim, cfg.num_heads, cfg.query_ffn_dim
        )
        self.transformer = Transformer(cfg, levels)
        self.in_proj = nn.ModuleList(nn.Sequential(*_proj_gn(c, dim)) for c in cfg.in_channels)
        self.mlp = MaskMLP(cfg.query_num, cfg.mask_mlp_dim, dim)
        self.fusion_block = CrossModalMixer(dim, cfg.num_heads)
        self.lateral_conv = nn.Sequential(*_proj_gn(dim, dim))
        self.out_conv = nn.Sequential(*_proj_gn(dim, dim, kernel=3), nn.ReLU(True))
        self.fpn = SimpleFPN(dim)
        self.attn_fc = _pixel_classifier(dim, cfg.head_dims, cfg.num_classes, self.scale_factor)
        self.fc = _pixel_classifier(dim, cfg.head_dims, cfg.num_classes, self.scale_factor)
        self._pos_cache: dict[tuple, Tensor] = {}
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The original head init: xavier on every matrix, Deformable-DETR init for MSDeformAttn, N(0,1) level embed."""
        if self.level_embed.is_meta:
            return
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for m in self.modules():
            if isinstance(m, MSDeformAttn):
                m.reset_parameters()
        nn.init.normal_(self.level_embed)

    def _position(self, h: int, w: int, device: torch.device) -> Tensor:
        key = (h, w, device)
        if key not in self._pos_cache:
            with torch.inference_mode(False):  # a cache made under inference_mode would break later training
                self._pos_cache[key] = sine_position_embedding(h, w, self.cfg.embed_dim // 2, device)
        return self._pos_cache[key]

    def forward(self, feats: Sequence[Tensor], audio: Tensor) -> tuple[Tensor, Tensor]:
        """feats: 4 maps [N, C_i, H/4..H/32]; audio [N, 1, D]. Returns (logits at stride 1, mask feature at stride 4)."""
        feat4 = self.in_proj[0](feats[0])
        srcs = [self.in_proj[i](feats[i]) for i in self.valid_indices]
        shapes = [(int(s.shape[2]), int(s.shape[3])) for s in srcs]
        n = audio.shape[0]
        tokens = torch.cat([s.flatten(2).transpose(1, 2) for s in srcs], 1)  # [N, sum HW, D]
        pos = torch.cat(
            [
                self._position(h, w, tokens.device).flatten(2).transpose(1, 2) + self.level_embed[lvl].view(1, 1, -1)
                for lvl, (h, w) in enumerate(shapes)
            ],
            1,
        )
        query = self.query_generator(audio)
        if self.cfg.use_learnable_queries:
            query = query + self.learnable_query.weight[None]
        memory = self.transformer.encoder(tokens, pos, shapes)
        query = self.transformer.decoder(query, memory)

        h1, w1 = shapes[0]
        encoded8 = memory[:, : h1 * w1].transpose(1, 2).reshape(n, -1, h1, w1)
        lateral = self.lateral_conv(feat4)
        mask_feature = lateral + F.interpolate(encoded8, size=lateral.shape[-2:], mode="bilinear", align_corners=False)
        mask_feature = self.fusion_block(self.out_conv(mask_feature), audio)

        response = torch.bmm(query, mask_feature.flatten(2)).view(n, -1, *mask_feature.shape[-2:])  # [N, Q, H, W]
        logits = self.fc(mask_feature + self.mlp(response))
        return logits, mask_feature


# ---------------------------------------------------------------------------------------------------------
# the model


class AVSegFormer(nn.Module):
    """Backbone + VGGish + head + audio projection (+ optional CGSL); state-dict order follows the original."""

    def __init__(
        self,
        cfg: AVSegFormerConfig,
        backbone: nn.Module,
        vggish: nn.Module | None = None,
        cgsl: nn.Module | None = None,
        cgsl_audio: str = "head",
    ) -> None:
        """backbone(frames) must return the 4 stage maps; vggish(log_mel [N,1,96,64]) -> [N,128].

        Without vggish the model only takes precomputed 128-d audio features (and its state dict lacks
        `vggish.*`). cgsl(audio, stage-4 map) -> [N] similarity, where audio is the projected audio token
        the head consumes ([N, d_model]; cgsl_audio="head", the authors' coupling) or the 128-d VGGish
        feature ("vggish", the earlier decoupled variant); it is saved under `cgsl.` after all original
        keys, so a model without it loads the original checkpoints strictly.
        """
        super().__init__()
        self.cfg = cfg
        self.backbone = backbone
        self.vggish = vggish
        self.head = AVSegFormerHead(cfg)
        self.audio_proj = nn.Linear(cfg.audio_dim, cfg.embed_dim)
        self.cgsl = cgsl
        if cgsl_audio not in ("head", "vggish"):
            raise ValueError(f"cgsl_audio must be 'head' or 'vggish', not {cgsl_audio!r}")
        self.cgsl_audio = cgsl_audio
        # never called by the forward: frozen so optimisers and DDP need not track them (same training)
        self.head.fpn.requires_grad_(False)
        self.head.attn_fc.requires_grad_(False)

    def freeze_backbone(self, freeze: bool = True) -> None:
        """The original freezes the backbone for its first epochs (TrainConfig.freeze_backbone_epochs). Under DDP, toggle before wrapping
        (DDP only syncs parameters that required grad when it was built) or drop the gradients instead."""
        self.backbone.requires_grad_(not freeze)

    def freeze_audio(self, freeze: bool = True) -> None:
        """The original never trains its (pretrained) VGGish; a frozen VGGish also runs without autograd."""
        if self.vggish is not None:
            self.vggish.requires_grad_(not freeze)

    def audio_embedding(self, audio: Tensor) -> Tensor:
        """[N,1,96,64] log-mel -> frozen VGGish -> [N,128]; [N,128] features pass through."""
        if audio.dim() == 2 and audio.shape[1] == self.cfg.audio_dim:
            return audio
        if audio.dim() != 4 or tuple(audio.shape[1:]) != (1, 96, 64):
            raise ValueError(
                f"audio must be log-mel [N,1,96,64] or features [N,{self.cfg.audio_dim}], got {tuple(audio.shape)}"
            )
        if self.vggish is None:
            raise ValueError("this AVSegFormer has no VGGish: pass precomputed 128-d audio features")
        if any(p.requires_grad for p in self.vggish.parameters()):
            return self.vggish(audio)
        with torch.no_grad():
            return self.vggish(audio)

    def forward(self, frames: Tensor, audio: Tensor, frame_mask: Tensor | None = None) -> AVSOutput:
        """frames [B*T,3,H,W] (ImageNet-normalised RGB); audio [B*T,1,96,64] log-mel or [B*T,128] features.

        frame_mask [B*T] (1 real, 0 padded; AVSS v1s/v1m clips) zeroes features and logits of padded frames,
        as the original's vid_temporal_mask_flag does. Returns the shared `AVSOutput`: logits [B*T,C,H,W],
        similarity (CGSL, or None), feature_maps [mask feature], and in `extra`: mask_feature, mix_logits
        (its channel mean, what the mix loss scores), visual_feature (stage-4 map) and audio_feature (128-d).
        """
        if frames.dim() != 4 or frames.shape[0] != audio.shape[0]:
            raise ValueError(f"frames {tuple(frames.shape)} and audio {tuple(audio.shape)} must share the B*T axis")
        audio_feature = self.audio_embedding(audio)
        audio_token = self.audio_proj(audio_feature.unsqueeze(1))  # [N, 1, D]
        feats = list(self.backbone(frames))
        if len(feats) != 4:
            raise ValueError(f"the backbone returned {len(feats)} feature maps, AVSegFormer needs 4")
        visual_feature = feats[-1]
        flag = None if frame_mask is None else frame_mask.reshape(-1, 1, 1, 1).to(feats[0].dtype)
        if flag is not None:
            feats = [f * flag for f in feats]
        logits, mask_feature = self.head(feats, audio_token)
        if logits.shape[-2:] != frames.shape[-2:]:  # frame sizes not divisible by 32
            logits = F.interpolate(logits, size=frames.shape[-2:], mode="bilinear", align_corners=False)
        if flag is not None:
            logits, mask_feature = logits * flag, mask_feature * flag
        sim = None
        extra = {
            "mask_feature": mask_feature,
            "mix_logits": mask_feature.mean(1, keepdim=True),  # the original mix loss's logits [N, 1, H/4, W/4]
            "visual_feature": visual_feature,
            "audio_feature": audio_feature,
        }
        if self.cgsl is not None:
            cgsl_in = audio_token.squeeze(1) if self.cgsl_audio == "head" else audio_feature
            extra["cgsl_pair"] = self.cgsl.embed(cgsl_in, visual_feature)
            sim = similarity(*extra["cgsl_pair"])
        return AVSOutput(logits=logits, feature_maps=[mask_feature], similarity=sim, extra=extra)


def avsegformer_model(
    backbone: str, subset: Subset | str, *, small: bool = False, cgsl: bool = False, embed_dim: int = 32,
    cgsl_audio: str = "head",
) -> AVSegFormer:
    """The published model (`small=False`; loads the original checkpoints strictly) or the CPU-sized one.

    small: the narrow backbone of the same family, the small VGGish and `small_avsegformer_config`
    (with `embed_dim` channels). Nothing is frozen here: see `freeze_backbone` / `freeze_audio`.
    """
    net = build_backbone(backbone, narrow=small)
    channels = tuple(int(c) for c in net.out_channels)
    if small:
        cfg = replace(small_avsegformer_config(subset, channels), embed_dim=embed_dim)
    else:
        cfg = avsegformer_config(subset, backbone)
    if cfg.in_channels != channels:
        raise ValueError(f"backbone {backbone} gives channels {channels}, config expects {cfg.in_channels}")
    head_cgsl = CGSL(channels[-1], cfg.embed_dim if cgsl_audio == "head" else cfg.audio_dim) if cgsl else None
    return AVSegFormer(cfg, net, vggish(small=small), head_cgsl, cgsl_audio)


def build_avsegformer(model_cfg: ModelConfig) -> AVSegFormer:
    """Build from the project's `ModelConfig` (model == "avsegformer"), as `models.build_model` does.

    The small config uses `model_cfg.channel` as d_model.
    """
    if model_cfg.model != "avsegformer":
        raise ValueError(f"not an AVSegFormer config: model={model_cfg.model!r}")
    return avsegformer_model(
        model_cfg.backbone, model_cfg.subset, small=model_cfg.narrow, cgsl=model_cfg.cgsl, embed_dim=model_cfg.channel,
        cgsl_audio=model_cfg.cgsl_audio,
    )


def checkpoint_problems(expected: dict[str, Tensor], given: dict[str, Tensor], optional_prefix: str = "cgsl.") -> list[str]:
    """Why `given` cannot be loaded strictly into a model whose state dict is `expected` (empty: it can).

    Keys under `optional_prefix` may be absent (original checkpoints have no CGSL).
    """
    problems = []
    missing = [k for k in expected if k not in given and not k.startswith(optional_prefix)]
    extra = [k for k in given if k not in expected]
    shapes = [k for k in expected if k in given and tuple(given[k].shape) != tuple(expected[k].shape)]
    if missing:
        problems.append(f"{len(missing)} missing key(s), e.g. {', '.join(missing[:3])}")
    if extra:
        problems.append(f"{len(extra)} unexpected key(s), e.g. {', '.join(extra[:3])}")
    for k in shapes[:3]:
        problems.append(f"{k} has shape {list(given[k].shape)}, the model expects {list(expected[k].shape)}")
    return problems


def load_avsegformer_checkpoint(model: AVSegFormer, path: str | Path) -> None:
    """Load an AVSegFormer checkpoint (the released .pth files or ours) into `model`, strictly.

    Tensors only (weights_only); a DataParallel `module.` prefix is stripped. Raises InputFileError
    naming the file and the first mismatches, before anything is copied.
    """
    state = read_state_dict(path)
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    problems = checkpoint_problems(model.state_dict(), state)
    if problems:
        raise InputFileError(path, "not a checkpoint of this AVSegFormer: " + "; ".join(problems))
    # an original checkpoint has no CGSL: then (only then) the fresh cgsl.* weights stay as they are
    model.load_state_dict(state, strict=model.cgsl is None or any(k.startswith("cgsl.") for k in state))
