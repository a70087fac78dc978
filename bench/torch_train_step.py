# PyTorch reference for bench/train_bench.cpp: the same training step (DeepSeek-VL 1.3B widths,
# 4 LLM layers, 4 SigLIP blocks, mlp_gelu aligner; seq 640 with one image; pretraining labels;
# forward + backward + clip_grad_norm_ + AdamW), float32 on CPU, written the way the official
# code + HF LlamaForCausalLM compute it (full [T, vocab] logits, F.cross_entropy).
# usage: python3 bench/torch_train_step.py [threads] [stage 2|3] [steps]
import sys, time, resource, torch, torch.nn as nn, torch.nn.functional as F

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
STAGE = int(sys.argv[2]) if len(sys.argv) > 2 else 2
STEPS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
H, NH, HD, FF, L, V = 2048, 16, 128, 5632, 4, 102400
C, CH, CF, CB = 1024, 16, 4096, 4


class RMS(nn.Module):
    def __init__(s): super().__init__(); s.weight = nn.Parameter(torch.ones(H))
    def forward(s, x):
        v = x.pow(2).mean(-1, keepdim=True); return s.weight * (x * torch.rsqrt(v + 1e-6))


def rope(x, cos, sin):
    x1, x2 = x[..., :HD // 2], x[..., HD // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Layer(nn.Module):
    def __init__(s):
        super().__init__(); s.n1, s.n2 = RMS(), RMS()
        s.q, s.k, s.v, s.o = (nn.Linear(H, H, bias=False) for _ in range(4))
        s.g, s.u, s.d = nn.Linear(H, FF, bias=False), nn.Linear(H, FF, bias=False), nn.Linear(FF, H, bias=False)
    def forward(s, x, cos, sin, mask):
        B, T, _ = x.shape; h = s.n1(x)
        q = rope(s.q(h).view(B, T, NH, HD).transpose(1, 2), cos, sin)
        k = rope(s.k(h).view(B, T, NH, HD).transpose(1, 2), cos, sin)
        v = s.v(h).view(B, T, NH, HD).transpose(1, 2)
        a = torch.softmax((q @ k.transpose(-1, -2)) / HD ** 0.5 + mask, -1) @ v
        x = x + s.o(a.transpose(1, 2).reshape(B, T, H)); h = s.n2(x)
        return x + s.d(F.silu(s.g(h)) * s.u(h))


class Block(nn.Module):  # SigLIP (timm) block: pre-norm, exact GELU
    def __init__(s):
        super().__init__(); s.norm1, s.norm2 = nn.LayerNorm(C, eps=1e-6), nn.LayerNorm(C, eps=1e-6)
        s.qkv, s.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        s.fc1, s.fc2 = nn.Linear(C, CF), nn.Linear(CF, C)
    def forward(s, x):
        B, T, _ = x.shape
        q, k, v = s.qkv(s.norm1(x)).view(B, T, 3, CH, C // CH).permute(2, 0, 3, 1, 4)
        a = torch.softmax((q @ k.transpose(-1, -2)) / (C // CH) ** 0.5, -1) @ v
        x = x + s.proj(a.transpose(1, 2).reshape(B, T, C))
        return x + s.fc2(F.gelu(s.fc1(s.norm2(x))))


class Model(nn.Module):
    def __init__(s):
        super().__init__()
        s.patch = nn.Conv2d(3, C, 16, 16); s.pos = nn.Parameter(torch.randn(1, 576, C) * 0.2)
        s.blocks = nn.ModuleList(Block() for _ in range(CB)); s.vnorm = nn.LayerNorm(C, eps=1e-6)
        s.aligner = nn.Sequential(nn.Linear(C, H), nn.GELU(), nn.Linear(H, H))
        s.embed = nn.Embedding(V, H); s.layers = nn.ModuleList(Layer() for _ in range(L))
        s.norm = RMS(); s.lm_head = nn.Linear(H, V, bias=False)
    def forward(s, pixels, ids, img_mask, labels):
        t = s.patch((pixels - 0.5) / 0.5).flatten(2).transpose(1, 2) + s.pos
        for b in s.blocks: t = b(t)
        emb = s.embed(ids)
        emb[img_mask] = s.aligner(s.vnorm(t)).reshape(-1, H)
        T = ids.shape[1]
        inv = 1.0 / (10000 ** (torch.arange(0, HD, 2).float() / HD)); f = torch.outer(torch.arange(T).float(), inv)
        e = torch.cat([f, f], -1); cos, sin = e.cos(), e.sin()
        mask = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)
        x = emb
        for l in s.layers: x = l(x, cos, sin, mask)
        logits = s.lm_head(s.norm(x)).float()
        return F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)


torch.manual_seed(0)
m = Model()
for n, p in m.named_parameters():
    train = n.startswith(("aligner", "embed", "layers", "norm", "lm_head")) or (STAGE == 3 and n.startswith(("patch", "pos", "blocks", "vnorm")))
    p.requires_grad_(train)
params = [p for p in m.parameters() if p.requires_grad]
decay = [p for p in params if p.dim() >= 2]; no_decay = [p for p in params if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=1e-5, betas=(0.9, 0.95), eps=1e-8, foreach=False)
ids = torch.randint(2, 99999, (1, 640)); ids[0, 0] = 100000; ids[0, 31:607] = 100015; ids[0, -1] = 100001
img_mask = ids == 100015
labels = ids.clone(); labels[0, 0] = -100; labels[img_mask] = -100
pixels = torch.rand(1, 3, 384, 384)


def step():
    opt.zero_grad(set_to_none=True)
    loss = m(pixels, ids, img_mask, labels); loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step()
    return loss.item()


step()
ts, cs = [], []
for _ in range(STEPS):
    t0, c0 = time.perf_counter(), time.process_time(); step()
    ts.append(time.perf_counter() - t0); cs.append(time.process_time() - c0)
ts.sort(); cs.sort()
med = ts[len(ts) // 2]
print("torch %s stage %d threads %d: step s min/med %.2f/%.2f (CPU s/step, all threads: %.2f) -> %.1f tok/s, trainable %.0f M, peak RSS %.1f GB"
      % (torch.__version__, STAGE, torch.get_num_threads(), ts[0], med, cs[len(cs) // 2], 640 / med,
         sum(p.numel() for p in params) / 1e6, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20))
