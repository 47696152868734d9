"""The ramp's presets as PyTorch modules: the modules of ../shared/bench/torch_ref.py (the reference
SPEC's presets mirror), kept here so that the golden and trajectory scripts run without it;
make_fixtures.py's ref_check() compares the two when torch_ref.py is present."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__()
        s.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False); s.bn1 = nn.BatchNorm2d(cout)
        s.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); s.bn2 = nn.BatchNorm2d(cout)
        s.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                        if stride != 1 or cin != cout else None)

    def forward(s, x):
        o = s.bn2(s.conv2(F.relu(s.bn1(s.conv1(x)))))
        return F.relu(o + (x if s.downsample is None else s.downsample(x)))


class ResNet8(nn.Module):
    def __init__(s, c=1, n=10, w=16):
        super().__init__()
        s.conv1 = nn.Conv2d(c, w, 3, 1, 1, bias=False); s.bn1 = nn.BatchNorm2d(w)
        s.layer1 = nn.Sequential(BasicBlock(w, w, 1)); s.layer2 = nn.Sequential(BasicBlock(w, 2*w, 2))
        s.layer3 = nn.Sequential(BasicBlock(2*w, 4*w, 2)); s.fc = nn.Linear(4*w, n)

    def forward(s, x):
        x = s.layer3(s.layer2(s.layer1(F.relu(s.bn1(s.conv1(x))))))
        return s.fc(x.mean((2, 3)))


class EncoderBlock(nn.Module):
    def __init__(s, d, h):
        super().__init__()
        s.ln1 = nn.LayerNorm(d); s.attn = nn.MultiheadAttention(d, h, batch_first=True)
        s.ln2 = nn.LayerNorm(d); s.mlp = nn.Sequential(nn.Linear(d, 4*d), nn.GELU(), nn.Linear(4*d, d))

    def forward(s, x):
        y = s.ln1(x); x = x + s.attn(y, y, y, need_weights=False)[0]
        return x + s.mlp(s.ln2(x))


class Transformer(nn.Module):
    def __init__(s, f=28, t=28, n=10, d=64, h=4, blocks=2):
        super().__init__()
        s.embed = nn.Linear(f, d); s.pos = nn.Parameter(torch.zeros(1, t, d))
        s.blocks = nn.Sequential(*[EncoderBlock(d, h) for _ in range(blocks)])
        s.ln = nn.LayerNorm(d); s.fc = nn.Linear(d, n)

    def forward(s, x):
        return s.fc(s.ln(s.blocks(s.embed(x) + s.pos))[:, -1])
