#!/usr/bin/python3
"""Reference values for the saliency-method tests (tests/XaiLab.Tests/Methods/ReferenceTests.cs).

Run once with Debian's PyTorch (apt-get install -y python3-torch python3-numpy):

    /usr/bin/python3 data-scripts/make-method-references.py tests/XaiLab.Tests/Fixtures/reference/methods

It builds a tiny fixed convolutional network (seeded weights, written as .npy), a fixed 24x24 image, and computes
with PyTorch, independently of XaiLab, what TorchRay's benchmark and Captum compute for it:

  gradient      max_c |d logit / d x_c| (TorchRay gradient_to_saliency), then TorchRay's imsmooth
                (radius ceil(4 sigma), replicated border) with sigma = smooth * max(H, W)
  IG            (x - x') * sum_k w_k grad F(x' + a_k (x - x')), F = softmax score, right Riemann and Gauss-Legendre
                (numpy's leggauss, mapped to [0,1] as Captum does)
  Grad-CAM      ReLU(sum_k mean_hw(dy/dA_k) A_k) at the output of layer relu3
  RISE          TorchRay's mask geometry (reflection padding, cell ceil((H + s)/c), shift in [0, s), s = ceil(H/c))
                from fixed grids and shifts; saliency = sum_i sigmoid(net(z * M_i)) M_i / N on the normalised image z
  Extremal      TorchRay's extremal perturbation, preserve variant: blur pyramid of the normalised image (zero
                padding), smooth-max mask generator with a sigma margin, area constraint on the full mask, SGD with
                momentum 0.9 / dampening 0.9, weight 300 * 1.0035^t, flip jitter, final imsmooth (zero padding)
  centre        TorchRay's point (W/2, H/2) for a few image sizes

The algorithms are written here from the published descriptions (papers and the libraries' documentation), not
taken from XaiLab. All files are float32 .npy (XaiLab's Npy reader).
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

H = W = 24
MEAN = torch.tensor([0.5, 0.45, 0.4]).view(1, 3, 1, 1)
STD = torch.tensor([0.25, 0.2, 0.3]).view(1, 3, 1, 1)


class Tiny(nn.Module):
    """conv1(3->4) relu1 conv2(4->6) relu2 pool(2) conv3(6->8) relu3 gap fc(8->3): normalised images -> logits."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(6, 8, 3, padding=1)
        self.relu3 = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8, 3)

    def forward(self, z):
        h = self.relu2(self.conv2(self.relu1(self.conv1(z))))
        h = self.relu3(self.conv3(self.pool(h)))
        return self.fc(self.flatten(self.gap(h)))


def normalise(x):
    return (x - MEAN) / STD


def save(out, name, t):
    a = np.ascontiguousarray(np.asarray(t.detach().cpu() if isinstance(t, torch.Tensor) else t, dtype=np.float32))
    np.save(os.path.join(out, name + ".npy"), a)


def kernel1d(sigma):
    """TorchRay imsmooth's kernel: i in [-ceil(4 sigma), ceil(4 sigma)], exp(-i^2 / (2 sigma^2)), normalised."""
    r = int(math.ceil(4 * sigma))
    i = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * i * i / (sigma * sigma))
    return torch.tensor(k / k.sum(), dtype=torch.float32), r


def smooth(x, sigma, mode):
    """Separable Gaussian of x [N,C,H,W], each channel alone; mode 'replicate' or 'zeros'."""
    if sigma <= 0:
        return x.clone()
    k, r = kernel1d(sigma)
    n, c, h, w = x.shape
    y = x.reshape(n * c, 1, h, w)
    y = F.pad(y, (r, r, r, r), mode="replicate") if mode == "replicate" else F.pad(y, (r, r, r, r))
    y = F.conv2d(y, k.view(1, 1, -1, 1))
    y = F.conv2d(y, k.view(1, 1, 1, -1))
    return y.reshape(n, c, h, w)


def gradient_maps(net, x, cls, out):
    xi = x.clone().unsqueeze(0).requires_grad_(True)
    net(normalise(xi))[0, cls].backward()
    raw = xi.grad.abs().amax(dim=1, keepdim=True)
    save(out, f"gradient_c{cls}_raw", raw[0, 0])
    for s, tag in ((0.02, "002"), (0.1, "010")):
        save(out, f"gradient_c{cls}_s{tag}", smooth(raw, s * max(H, W), "replicate")[0, 0])


def integrated_gradients(net, x, cls, steps, rule, out):
    if rule == "riemann_right":
        alphas = np.arange(1, steps + 1) / steps
        weights = np.full(steps, 1.0 / steps)
    else:
        nodes, wts = np.polynomial.legendre.leggauss(steps)
        alphas, weights = 0.5 * (nodes + 1), 0.5 * wts
    base = torch.zeros_like(x)
    total = torch.zeros_like(x)
    for a, wt in zip(alphas, weights):
        p = (base + float(a) * (x - base)).unsqueeze(0).requires_grad_(True)
        F.softmax(net(normalise(p)), dim=1)[0, cls].backward()
        total += float(wt) * p.grad[0]
    save(out, f"ig_c{cls}_{rule}_{steps}", (x - base) * total)


def grad_cam(net, x, cls, out):
    store = {}
    hook = net.relu3.register_forward_hook(lambda m, i, o: store.__setitem__("a", o))
    y = net(normalise(x.unsqueeze(0).requires_grad_(True)))[0, cls]
    hook.remove()
    a = store["a"]
    g = torch.autograd.grad(y, a)[0]
    cam = torch.clamp((g.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1), min=0)[0]
    save(out, f"gradcam_c{cls}_relu3", cam)


def rise(net, x, n_masks, cells, p, out):
    gen = torch.Generator().manual_seed(1234)
    s = int(math.ceil(H / cells))                    # shift range (TorchRay's cell_size of the input)
    cell = int(math.ceil((H + s) / cells))           # cell of the upsampled grid (H + s pixels over `cells` cells)
    grids = (torch.rand(n_masks, 1, cells, cells, generator=gen) < p).float()
    shifts = torch.randint(0, s, (n_masks, 2), generator=gen)
    padded = F.pad(grids, (1, 1, 1, 1), mode="reflect")
    up = F.interpolate(padded, size=(cell * (cells + 2),) * 2, mode="bilinear", align_corners=False)
    up = up[:, :, cell:cell + H + s, cell:cell + W + s]
    masks = torch.stack([up[i, :, shifts[i, 0]:shifts[i, 0] + H, shifts[i, 1]:shifts[i, 1] + W] for i in range(n_masks)])
    z = normalise(x.unsqueeze(0))
    with torch.no_grad():
        scores = torch.sigmoid(net(z * masks))                   # [N, K]
    sal = (scores.t() @ masks.view(n_masks, H * W)).view(-1, H, W) / n_masks
    save(out, "rise_grids", grids)
    save(out, "rise_shifts", shifts.float())
    save(out, "rise_masks", masks)
    save(out, "rise_saliency", sal)


def extremal(net, x, cls, areas, iters, step, sigma, levels, max_blur, smooth_frac, out):
    z = normalise(x.unsqueeze(0))
    # Blur pyramid of the normalised image: level l has sigma_max (1 - l/(L-1)), zero padding; last level = image.
    pyramid = torch.cat([smooth(z, (1 - l / (levels - 1)) * max_blur, "zeros") for l in range(levels)], dim=0)

    # Mask generator with a margin of sigma pixels around the image.
    margin = sigma
    radius = 1 + int(math.ceil(sigma / step))
    pad = 1 + int(math.ceil((margin + sigma) / step))
    ph, pw = int(math.ceil(H / step)), int(math.ceil(W / step))
    mid = (ph + 2 * pad - 2 * radius, pw + 2 * pad - 2 * radius)
    outs = (step * mid[0] - step + 1, step * mid[1] - step + 1)
    side = 2 * radius + 1
    wt = np.zeros((side * side, outs[0], outs[1]))
    uy, ux = np.meshgrid(np.arange(outs[0]), np.arange(outs[1]), indexing="ij")
    for ky in range(side):
        for kx in range(side):
            iy = uy // step + ky - pad
            ix = ux // step + kx - pad
            d = np.sqrt((uy - (margin + step * iy)) ** 2 + (ux - (margin + step * ix)) ** 2) / sigma
            wt[ky * side + kx] = np.exp(-2 * np.maximum(d - 0.5, 0) ** 2)
    weight = torch.tensor(wt, dtype=torch.float32).unsqueeze(0)
    off = int(round(margin))

    def generate(par):
        u = F.unfold(par, (side, side), padding=pad).view(len(par), side * side, mid[0], mid[1])
        u = F.interpolate(u, size=(step * mid[0], step * mid[1]), mode="nearest")[:, :, :outs[0], :outs[1]]
        v = weight * u
        m = (v * F.softmax(20 * v, dim=1)).sum(dim=1, keepdim=True).clamp(0, 1)
        return m[:, :, off:off + H, off:off + W], m

    def apply(m):
        lvl = m * (levels - 1)
        lo = lvl.floor()
        frac = lvl - lo
        lo = lo.long()
        y = pyramid.unsqueeze(0).expand(len(m), *pyramid.shape)
        lo = lo.unsqueeze(2).expand(len(m), 1, 3, H, W)
        y0 = torch.gather(y, 1, lo)
        y1 = torch.gather(y, 1, (lo + 1).clamp(max=levels - 1))
        return ((1 - frac.unsqueeze(2)) * y0 + frac.unsqueeze(2) * y1).squeeze(1)

    k = len(areas)
    par = torch.ones(k, 1, ph, pw)
    n_full = outs[0] * outs[1]
    ref = torch.ones(k, n_full)
    for i, a in enumerate(areas):
        ref[i, :int(n_full * (1 - a))] = 0
    opt = torch.optim.SGD([par], lr=0.01, momentum=0.9, dampening=0.9)
    lam = 300.0
    for t in range(iters):
        par.requires_grad_(True)
        crop, full = generate(par)
        xp = apply(crop)
        if t % 2 == 0:
            xp = torch.flip(xp, dims=(3,))
        reward = net(xp)[:, cls]
        regul = ((full.reshape(k, -1).sort(dim=1, stable=True)[0] - ref) ** 2).mean(dim=1) * lam
        energy = (reward - regul).sum()
        opt.zero_grad()
        (-energy).backward()
        opt.step()
        par.data = par.data.clamp(0, 1)
        lam *= 1.0035
    with torch.no_grad():
        crop, _ = generate(par)
        save(out, f"ep_c{cls}_smooth", smooth(crop, smooth_frac * min(H, W), "zeros")[:, 0])
        print(f"extremal: mask means {crop.mean(dim=(1, 2, 3)).tolist()}, min {crop.min().item():.3f}")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/XaiLab.Tests/Fixtures/reference/methods"
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(20261201)
    net = Tiny().eval()
    with torch.no_grad():
        for name, prm in net.named_parameters():
            prm.mul_(1.5)
    for name, prm in net.named_parameters():
        prm.requires_grad_(False)
        save(out, "net_" + name, prm)
    # A fixed image: two coloured blobs on a soft gradient, plus a little noise.
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")
    blob1 = torch.exp(-((yy - 7) ** 2 + (xx - 16) ** 2) / 18)
    blob2 = torch.exp(-((yy - 17) ** 2 + (xx - 6) ** 2) / 10)
    g = torch.Generator().manual_seed(7)
    x = torch.stack([0.2 + 0.7 * blob1, 0.3 + 0.6 * blob2, 0.25 + 0.02 * xx]) + 0.05 * torch.rand(3, H, W, generator=g)
    x = x.clamp(0, 1)
    save(out, "image", x)
    with torch.no_grad():
        logits = net(normalise(x.unsqueeze(0)))[0]
    save(out, "logits", logits)
    print("logits", logits.tolist())

    gradient_maps(net, x, 1, out)
    for rule in ("riemann_right", "gausslegendre"):
        integrated_gradients(net, x, 2, 8, rule, out)
    for c in (0, 2):
        grad_cam(net, x, c, out)
    rise(net, x, 64, 3, 0.5, out)
    extremal(net, x, 1, [0.1, 0.3], 60, 3, 5.0, 4, 3.0, 0.09, out)
    # Centre: TorchRay's point (W/2, H/2) -> rows (H, W, x, y).
    sizes = [(24, 24), (128, 128), (224, 224), (375, 500), (9, 11)]
    save(out, "centre_points", [[h, w, w / 2, h / 2] for h, w in sizes])


if __name__ == "__main__":
    main()
