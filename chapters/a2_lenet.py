# %% [markdown]
# # Appendix A.2: LeNet
#
# The second model of the paper's Appendix A (A.2; §3.3 in v1) is LeNet
# {cite}`lecun+:1998`, a small convolutional network for images: two rounds of convolution, relu and
# max-pooling, then two fully connected layers. In named notation the image axes
# are $\height$ and $\width$, the channels $\chans$, and each block of §4 is
# applied by name. This chapter assembles the model from those blocks, checks it
# against PyTorch's positional `F.conv2d`, `F.max_pool2d` and `F.linear`, shows
# that the paper's two ways of writing the first fully connected layer agree, and
# trains it on handwritten digits.
#
# One misprint is corrected: Appendix A.2 (like v1's §3.3) ends with the
# unnumbered display
# $\mathrm{MaxPool}^l(X) = \mathrm{MaxPool2d}_{ph^l,ph^l}(X)$, the height's pool
# size twice; §4.5 defines $\mathrm{MaxPool2d}_{kh,kw}$ with the window's height
# first and its width second, so the second size should be $pw^l$. The
# section on pooling below checks the corrected form against PyTorch on pools
# that are not square.

# %%
import functools
import logging
import sys
import time

# no font-cache notice on stderr
logging.getLogger("matplotlib").setLevel(logging.ERROR)
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.ticker import PercentFormatter
from tqdm import tqdm

import ntlib as nt

f64 = torch.float64


# the chapter's check: ntlib.testing.same, to 1e-10 unless told
same = functools.partial(nt.testing.same, tol=1e-10)

# %% [markdown]
# ## The model
#
# The input is a batch of images with $c_0$ channels,
# $X^0 \in \reals^{\batch \times \chans[c_0] \times \height \times \width}$. The
# network computes
#
# <!-- ntn: definition; pp=nt.models.init_lenet(chans=(1, 2, 3), kernels=((3, 3), (3, 3)), height=14, width=14, hidden=5, classes=4, dtype=torch.float64); Conv^1=lambda X: nt.rename(nt.conv2d(X, V["pp"]["W1"], V["pp"]["b1"]), {"chans'": "chans"}); Conv^2=lambda X: nt.rename(nt.conv2d(X, V["pp"]["W2"], V["pp"]["b2"]), {"chans'": "chans"}); MaxPool^1=lambda X: nt.max_pool2d(X, 2, 2); MaxPool^2=lambda X: nt.max_pool2d(X, 2, 2); relu=nt.relu; W^3=V["pp"]["W3"]; b^3=V["pp"]["b3"]; W^4=V["pp"]["W4"]; b^4=V["pp"]["b4"]; X^0=randn("chans", "height", "width", "batch"); @chans=1,height=14,width=14; expect=nt.softmax(nt.models.lenet_logits(V["X^0"], V["pp"]), "classes") -->
# $$
# \begin{aligned}
# T^1 &= \mathrm{relu}(\mathrm{Conv}^1(X^0)), & X^1 &= \mathrm{MaxPool}^1(T^1), \\
# T^2 &= \mathrm{relu}(\mathrm{Conv}^2(X^1)), & X^2 &= \mathrm{MaxPool}^2(T^2)_{(\height, \width, \chans) \rightarrow \layer}, \\
# X^3 &= \mathrm{relu}(W^3 \ndot{\layer} X^2 + b^3), & O &= \nfun{\classes}{softmax}(W^4 \ndot{\hidden} X^3 + b^4),
# \end{aligned}
# $$
#
# with $W^3 \in \reals^{\hidden \times \layer}$, $b^3 \in \reals^{\hidden}$,
# $W^4 \in \reals^{\classes \times \hidden}$, $b^4 \in \reals^{\classes}$. The
# convolution and pooling layers are the §4 blocks with their own parameters:
#
# <!-- ntn: definition; ~\mathrm{MaxPool2d}_{ph^l, pw^l}=\mathrm{MaxPool2d}; X[batch,chans,height,width]; W^l[chans',chans,kh,kw]; b^l[chans']; @height=8,width=9,kh=3,kw=2; Conv2d=nt.conv2d; MaxPool2d=lambda X: nt.max_pool2d(X, 2, 3); Conv^l=lambda X: N(F.conv2d(P(X, "batch", "chans", "height", "width"), P(V["W^l"], "chans'", "chans", "kh", "kw"), P(V["b^l"], "chans'")), "batch", "chans", "height", "width"); MaxPool^l=lambda X: N(F.max_pool2d(P(X, "batch", "chans", "height", "width"), (2, 3)), "batch", "chans", "height", "width") -->
# $$
# \begin{aligned}
# \mathrm{Conv}^l(X) &= \mathrm{Conv2d}(X; W^l, b^l)_{\chans' \rightarrow \chans},
# & b^l &\in \reals^{\chans'[c_l]}, \\
# W^l &\in \reals^{\chans'[c_l] \times \chans[c_{l-1}] \times \kh[kh_l]
#   \times \kw[kw_l]}, \\
# \mathrm{MaxPool}^l(X) &= \mathrm{MaxPool2d}_{ph^l, pw^l}(X).
# \end{aligned}
# $$
#
# $\mathrm{Conv2d}$ contracts the input's channels and the kernel window with $W^l$
# and leaves the output channels under the name $\chans'$; renaming them back to
# $\chans$ lets the next layer treat them as its input channels. The
# implementation is that sequence of formulas:

# %%
nt.source(nt.models.lenet_logits, nt.models.lenet)

# %% [markdown]
# <!-- ntn: definition; ~\mathrm{MaxPool2d}_{kh,kw}(X)=\mathrm{MP}(X); MP=lambda X: nt.max_pool2d(X, 3, 2); pool=lambda X, seq, kernel: nt.pool(X, size[kernel], seq=seq, kernel=kernel); X[chans,height,width]; @height=6,width=4,kh=3,kw=2; at=2 -->
# <!-- ntn: definition; unroll=lambda X, seq, kernel: nt.unroll(X, size[kernel], seq=seq, kernel=kernel); Conv2d=nt.conv2d; X[chans,height,width,batch]; W[chans',chans,kh,kw]; b[chans']; @height=6,width=5,kh=3,kw=2 -->
# The two blocks it uses come from §4.4 and §4.5 (see that chapter for their
# derivation):
# $\mathrm{Conv2d}(X; W, b) = W \ndot{\chans \\ \kh, \kw} \nfun{\height \\ \kh}{unroll} \nfun{\width \\ \kw}{unroll} X + b$
# and $\mathrm{MaxPool2d}_{kh,kw}(X) = \nfun{\kh,\kw}{max} \nfun{\height,\kh}{pool} \nfun{\width,\kw}{pool} X$
# with windows of $|\kh| = kh$ rows and $|\kw| = kw$ columns. Both dispatch to
# PyTorch's fused kernels unless run inside `with nt.plain():`.

# %%
nt.source(nt.conv2d, nt.max_pool2d)

# %% [markdown]
# ## Parameters and shapes
#
# `nt.models.init_lenet` draws the parameters from a seed. The size of $\layer$
# follows from the others: with valid convolutions and pools that divide evenly, a
# $28 \times 28$ image with $5\times 5$ kernels and $2\times 2$ pools goes
# $28 \to 24 \to 12 \to 8 \to 4$, so $|\layer| = 4 \cdot 4 \cdot 16 = 256$ for
# $c_2 = 16$ channels. This is *not* LeNet-5's geometry: LeNet-5 takes
# $32 \times 32$ inputs, which go $32 \to 28 \to 14 \to 10 \to 5$ and leave
# $|\layer| = 5 \cdot 5 \cdot 16 = 400$ features. We keep LeNet-5's kernels, pools
# and channel counts and feed $28 \times 28$ images (the size of MNIST digits), as
# many modern re-implementations do.
#
# `init_lenet` starts the biases at 0, which would hide a forgotten bias from
# any check; for the checks we redraw them at random.

# %%
def perturbed(params, seed):
    """A copy of `params` whose biases are random (none is 0)."""
    out = dict(params)
    for k, (key, v) in enumerate(params.items()):
        if key.startswith("b"):
            out[key] = nt.randn(seed=seed + k, dtype=f64, **nt.shape(v))
    return out


params = nt.models.init_lenet(
    chans=(1, 6, 16),
    kernels=((5, 5), (5, 5)),
    pools=((2, 2), (2, 2)),
    height=28,
    width=28,
    hidden=120,
    classes=10,
    seed=0,
    dtype=f64,
)
params = perturbed(params, seed=100)
for k, v in params.items():
    print(f"{k:3s}", nt.shape(v))

# %% [markdown]
# ## Checked against positional PyTorch
#
# The same computation, written positionally: `F.conv2d` wants the weights as
# (out channels, in channels, kernel rows, kernel columns), `F.linear` wants
# (out, in), and flattening in the order $(\height, \width, \chans)$ means moving the
# channel dimension last before reshaping. `nt.positional` lays out each named
# weight in exactly the order asked for, so the two programs share their parameters.

# %%
ORDERS = {
    "W1": ("chans'", "chans", "kh", "kw"), "b1": ("chans'",),
    "W2": ("chans'", "chans", "kh", "kw"), "b2": ("chans'",),
    "W3": ("hidden", "layer"), "b3": ("hidden",),
    "W4": ("classes", "hidden"), "b4": ("classes",),
}


def positional_lenet(x, params, pools=((2, 2), (2, 2))):
    """LeNet in positional PyTorch: x (batch, chans, height, width) ->
    probabilities (batch, classes)."""
    w = {k: nt.positional(params[k], o).cpu() for k, o in ORDERS.items()}
    t = F.max_pool2d(torch.relu(F.conv2d(x, w["W1"], w["b1"])), pools[0])
    t = F.max_pool2d(torch.relu(F.conv2d(t, w["W2"], w["b2"])), pools[1])
    t = t.permute(0, 2, 3, 1).flatten(1)  # (batch, height·width·chans)
    t = torch.relu(F.linear(t, w["W3"], w["b3"]))
    return torch.softmax(F.linear(t, w["W4"], w["b4"]), dim=-1)


X0 = nt.randn(seed=1, batch=3, chans=1, height=28, width=28)
x = nt.positional(X0, ("batch", "chans", "height", "width")).cpu()
ref = positional_lenet(x, params)
O = nt.models.lenet(X0, params)
print("LeNet = positional PyTorch:  ", same(O, ("batch", "classes"), ref))
with nt.plain():
    print(
        "plain definitions agree too:",
        same(nt.models.lenet(X0, params), ("batch", "classes"), ref),
    )
nt.show(O, ("batch", "classes"), decimals=3)

# %% [markdown]
# ## Flattening, or contracting three axes
#
# Appendix A.2 adds that the flattening can be avoided: "as an alternative",
# $X^2$ keeps its three axes and $W^3$ gets them too,
#
# <!-- ntn: definition; X^2[height,width,chans,batch]; W^3[hidden,height,width,chans]; b^3[hidden]; expect=N(torch.relu(F.linear(P(V["X^2"], "batch", "height", "width", "chans").flatten(1), P(V["W^3"], "hidden", "height", "width", "chans").flatten(1), P(V["b^3"], "hidden"))), "batch", "hidden") -->
# $$
# X^3 = \mathrm{relu}\bigl(W^3 \ndot{\height \\ \width \\ \chans} X^2 + b^3\bigr),
# \qquad W^3 \in \reals^{\hidden \times \height \times \width \times \chans}.
# $$
#
# The two are the same function once $W^3$'s $\layer$ axis is split in the same
# order as the flattening (`nt.unflatten` is the inverse of `nt.flatten`); that is
# what `flatten=False` does.

# %%
O_contract = nt.models.lenet(X0, params, flatten=False)
print(
    "flattening form = contraction form:",
    same(O_contract, ("batch", "classes"), ref),
)

# %% [markdown]
# ## $\mathrm{MaxPool2d}_{ph,pw}$, not $_{ph,ph}$
#
# With square pools the misprint is harmless, which is presumably how it survived.
# With pools that are not square it is not. PyTorch's `F.max_pool2d(x, (kH, kW))`
# takes the window's height first and its width second, like §4.5's
# $\mathrm{MaxPool2d}_{kh,kw}$. On a $6 \times 4$ input, for three non-square
# pools, the corrected $\mathrm{MaxPool2d}_{ph,pw}$ matches it in shape and in
# every value; the printed $\mathrm{MaxPool2d}_{ph,ph}$ gives another shape, or
# no result at all when $ph$ does not divide the width:

# %%
Z = nt.randn(seed=2, batch=2, chans=3, height=6, width=4)
order = ("batch", "chans", "height", "width")
z = nt.positional(Z, order).cpu()
for ph, pw in [(2, 1), (1, 4), (3, 2)]:
    want = F.max_pool2d(z, (ph, pw))
    same(nt.max_pool2d(Z, ph, pw), order, want)        # shape and values
    try:
        s = nt.shape(nt.max_pool2d(Z, ph, ph))
        printed = f"{s['height']} x {s['width']}"
    except nt.AxisError:
        printed = "AxisError"
    right = f"{want.shape[2]} x {want.shape[3]}"
    assert printed != right
    print(f"pool {ph} x {pw}: torch {right}, MaxPool2d_(ph,pw) {right}, "
          f"MaxPool2d_(ph,ph) {printed}")

# %% [markdown]
# The whole model with non-square kernels and pools ($3 \times 5$ and
# $2 \times 3$ kernels, $2 \times 1$ and $1 \times 2$ pools, on $16 \times 12$
# images with two channels) against the same positional program:

# %%
pools = ((2, 1), (1, 2))
params_ns = perturbed(
    nt.models.init_lenet(chans=(2, 4, 5), kernels=((3, 5), (2, 3)),
                         pools=pools, height=16, width=12, hidden=7,
                         seed=5, dtype=f64),
    seed=200,
)
X_ns = nt.randn(seed=3, batch=2, chans=2, height=16, width=12)
x_ns = nt.positional(X_ns, ("batch", "chans", "height", "width")).cpu()
print("non-square LeNet = positional PyTorch:",
      same(nt.models.lenet(X_ns, params_ns, pools=pools), ("batch", "classes"),
           positional_lenet(x_ns, params_ns, pools)))

# %% [markdown]
# ## Training on handwritten digits
#
# scikit-learn {cite}`pedregosa+:2011` ships a small digits data set (1797
# grayscale images of $8\times 8$ pixels, intensities 0–16: the test set of the
# UCI repository's handwritten digits {cite}`alpaydin+kaynak:1998`), so no
# download is needed. An
# $8\times 8$ image is too small for these layers (two valid $5\times5$
# convolutions and two $2\times 2$ pools need at least $16 \times 16$, and leave
# almost nothing at that size), so we **upsample every image to $28\times 28$**
# with bilinear interpolation and keep LeNet-5's layer sizes: $5\times 5$ kernels,
# $2\times 2$ pools, 6 and 16 channels, $|\hidden| = 120$.
#
# A quarter of the images, stratified by class, is held out as the test set. During
# training, each image is shifted by up to 3 pixels in each direction (a standard
# augmentation that helps a lot with only 1347 training images). Adam with a
# one-cycle learning-rate schedule, batches of 64, 30 epochs, float32, one thread
# (the model is small; see the previous chapter). The target is **test accuracy
# ≥ 97%**.

# %%
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

torch.set_num_threads(1)
torch.manual_seed(0)
digits = load_digits()
images = torch.tensor(digits.images, dtype=torch.float32) / 16.0
images = F.interpolate(
    images.unsqueeze(1), size=(28, 28), mode="bilinear", align_corners=False
).squeeze(1)
labels = torch.tensor(digits.target)
train_idx, test_idx = train_test_split(
    range(len(labels)), test_size=0.25, random_state=0, stratify=digits.target
)
x_train, y_train = images[train_idx], labels[train_idx]
x_test, y_test = images[test_idx], labels[test_idx]
print(
    f"{len(y_train)} training and {len(y_test)} test images "
    f"of size {tuple(images.shape[1:])}"
)


def as_named(x):
    """A positional (batch, height, width) float tensor as X^0 with one
    channel."""
    return nt.tensor(x.unsqueeze(1), ("batch", "chans", "height", "width"))


def shift(x, g, m=3):
    """Each image translated by up to m pixels in each direction (zero
    fill)."""
    n, h, w_ = x.shape
    padded = F.pad(x, (m, m, m, m))
    off = torch.randint(0, 2 * m + 1, (n, 2), generator=g)
    rows = (off[:, :1] + torch.arange(h))[:, :, None]
    cols = (off[:, 1:] + torch.arange(w_))[:, None, :]
    return padded[torch.arange(n)[:, None, None], rows, cols]


fig, axes = plt.subplots(1, 8, figsize=(8, 1.5))
for k, ax in enumerate(axes):
    ax.imshow(x_train[k], cmap="gray_r")
    ax.set_title(int(y_train[k]))
    ax.axis("off")
plt.show()

# %% tags=["nbval-ignore-output"]
model = nt.models.init_lenet(
    chans=(1, 6, 16),
    kernels=((5, 5), (5, 5)),
    pools=((2, 2), (2, 2)),
    height=28,
    width=28,
    hidden=120,
    classes=10,
    seed=0,
    dtype=torch.float32,
)
epochs, batch_size = 30, 64
per_epoch = len(y_train) // batch_size
opt = torch.optim.Adam(nt.models.parameters(model), lr=1e-2)
sched = torch.optim.lr_scheduler.OneCycleLR(
    opt, max_lr=1e-2, total_steps=epochs * per_epoch
)
g = torch.Generator().manual_seed(0)


def accuracy(x, y):
    with torch.no_grad():
        logits = nt.models.lenet_logits(as_named(x), model)
    target = nt.tensor(y, "batch")
    hit = nt.argmax_index(logits, "classes") == target
    return nt.mean(hit, "batch").item()


history = {"loss": [], "train": [], "test": []}
t0 = time.perf_counter()
for epoch in tqdm(
    range(epochs), file=sys.stdout, desc="training", mininterval=2
):
    perm = torch.randperm(len(y_train), generator=g)
    total = 0.0
    for k in range(per_epoch):
        idx = perm[k * batch_size : (k + 1) * batch_size]
        batch = as_named(shift(x_train[idx], g))
        logits = nt.models.lenet_logits(batch, model)
        loss = nt.models.cross_entropy(
            logits, nt.tensor(y_train[idx], "batch"), vocab="classes"
        )
        opt.zero_grad()
        loss.data.backward()
        opt.step()
        sched.step()
        total += loss.data.item()
    history["loss"].append(total / per_epoch)
    history["train"].append(accuracy(x_train, y_train))
    history["test"].append(accuracy(x_test, y_test))
train_seconds = time.perf_counter() - t0
test_acc = history["test"][-1]
print(
    f"{epochs} epochs in {train_seconds:.1f} s; "
    f"final training loss {history['loss'][-1]:.4f},\n"
    f"training accuracy {history['train'][-1]:.2%}, "
    f"test accuracy {test_acc:.2%}"
)

# %%
assert test_acc >= 0.97, test_acc
print("test accuracy ≥ 97%:", test_acc >= 0.97)
print("trained within 2 minutes:", train_seconds < 120)

# %% tags=["nbval-ignore-output", "hide-input"]
# two panels with room between them for the second one's axis label
fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.4), layout="constrained")
ep = range(1, epochs + 1)
a1.plot(ep, history["loss"])
a1.set_yscale("log")
a1.set_xlabel("epoch")
a1.set_ylabel("training cross-entropy")
a2.plot(ep, history["train"], label="training (unshifted)")
a2.plot(ep, history["test"], label="test")
a2.axhline(0.97, color="gray", linestyle=":", label="target 97%")
a2.set_ylim(0.8, 1.005)
a2.set_yticks([0.8, 0.85, 0.9, 0.95, 1.0])
a2.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
a2.set_xlabel("epoch")
a2.set_ylabel("accuracy")
a2.legend(loc="lower right", frameon=False)
plt.show()

# %% [markdown]
# ## Confusion matrix
#
# The confusion matrix is itself a contraction. With one-hot true labels
# $Y \in \{0,1\}^{\batch \times \name{true}}$ and one-hot predictions
# $\hat Y \in \{0,1\}^{\batch \times \name{pred}}$,
#
# <!-- ntn: definition; @true=3,pred=3; Y=onehot("true", "batch"); \hat Y=onehot("pred", "batch"); expect=N(P(V["Y"], "batch", "true").T @ P(V["\\hat Y"], "batch", "pred"), "true", "pred") -->
# $$
# C = Y \ndot{\batch} \hat Y \in \reals^{\name{true} \times \name{pred}}
# $$
#
# counts, for every pair of classes, the test images of class $\name{true}$ that
# were predicted as $\name{pred}$.

# %% tags=["nbval-ignore-output"]
with torch.no_grad():
    logits = nt.models.lenet_logits(as_named(x_test), model)
    pred = nt.argmax_index(logits, "classes")
Y = nt.models.one_hot(nt.tensor(y_test, "batch"), vocab="true", size=10)
Y_hat = nt.models.one_hot(pred, vocab="pred", size=10)
C = nt.contract(Y, Y_hat, over="batch")
print(nt.show(C, ("true", "pred"), decimals=0))

Cm = nt.positional(C, ("true", "pred")).cpu()
fig, ax = plt.subplots(figsize=(5, 4.6))
ax.imshow(Cm, cmap="Blues")
for i in range(10):
    for j in range(10):
        c = int(Cm[i, j])
        if c:
            ax.text(j, i, c, ha="center", va="center", fontsize=10)
ax.set_xlabel("predicted")
ax.set_ylabel("true")
ax.set_xticks(range(10))
ax.set_yticks(range(10))
plt.show()

# %%
assert int(nt.sum(C, ("true", "pred")).data) == len(y_test)
print(
    "every test image counted once:",
    int(nt.sum(C, ("true", "pred")).data) == len(y_test),
)

# %% [markdown]
# ## The misclassified digits
#
# The test images the model gets wrong, at their original $8\times 8$ resolution,
# with the true label and the prediction:

# %% tags=["nbval-ignore-output"]
p = nt.positional(pred, "batch").cpu()
wrong = torch.nonzero(p != y_test).flatten().tolist()
print(f"{len(wrong)} of {len(y_test)} test images misclassified")
cols = min(max(len(wrong), 1), 8)
nrows = -(-max(len(wrong), 1) // cols)
fig, axes = plt.subplots(nrows, cols, figsize=(1.0 * cols, 1.3 * nrows),
                         squeeze=False)
for ax, k in zip(axes.flat, wrong):
    ax.imshow(digits.images[test_idx[k]], cmap="gray_r")
    ax.set_title(f"{int(y_test[k])} → {int(p[k])}", fontsize=10)
for ax in axes.flat:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Exercises
#
# Replace the `...` in each stub with your answer and run the cell: the checker
# tries it on inputs of its own, including other sizes, other storage orders
# and an extra axis to lift over (see the preface). Below each stub, a collapsed
# cell shows one solution written out, and the checker's verdict on it.
#
# ### Exercise A2.1: the size of $\layer$ for $32 \times 32$ images
#
# The original LeNet read $32 \times 32$ images. With this appendix's layers
# ($5 \times 5$ kernels, no padding, $2 \times 2$ pools, $c_2 = 16$ channels), how
# large is the axis $\layer$ that $X^2$ is flattened into? Answer with a number.

# %%
answer = ...  # your answer

nt.exercises.report("A2.1", answer)

# %% tags=["hide-cell"]
answer = 5 * 5 * 16  # 32 → 28 → 14 → 10 → 5 per side, 16 channels

assert nt.exercises.check("A2.1", answer)

# %% [markdown]
# ### Exercise A2.2: one convolution stage
#
# Write one stage of the network,
#
# <!-- ntn: definition; ~(X; W, b)=(X, W, b); ~\mathrm{MaxPool2d}_{2,2}=\mathrm{MaxPool}; MaxPool=lambda X: nt.max_pool2d(X, 2, 2); Conv2d=nt.conv2d; relu=nt.relu; X[chans,height,width,batch]; W[chans',chans,kh,kw]; b[chans']; @height=6,width=8,kh=3,kw=3,chans=1,chans'=2; expect=nt.exercises.solution("A2.2")(V["X"], V["W"], V["b"]) -->
# $$
# \mathrm{MaxPool2d}_{2,2}\bigl(\mathrm{relu}(\mathrm{Conv2d}(X; W, b)_{\chans' \rightarrow \chans})\bigr),
# $$
#
# with
# $W \in \reals^{\chans' \times \chans \times \kh \times \kw}$ and
# $b \in \reals^{\chans'}$.

# %%
def answer(X, W, b, *, chans="chans"):
    ...  # your code here


nt.exercises.report("A2.2", answer)

# %% tags=["hide-cell"]
def answer(X, W, b, *, chans="chans"):
    Y = nt.rename(nt.conv2d(X, W, b), {chans + "'": chans})
    return nt.max_pool2d(nt.relu(Y), 2, 2)


assert nt.exercises.check("A2.2", answer)

# %% [markdown]
# ### Exercise A2.3: flatten, then the hidden layer
#
# <!-- ntn: definition; X^2[height,width,chans,batch]; W^3[hidden,layer]; b^3[hidden]; @layer=24; expect=N(torch.relu(F.linear(P(V["X^2"], "batch", "height", "width", "chans").flatten(1), P(V["W^3"], "hidden", "layer"), P(V["b^3"], "hidden"))), "batch", "hidden"); at=5 -->
# Given $X^2 \in \reals^{\height \times \width \times \chans}$ (maybe with a
# $\batch$ axis), $W^3 \in \reals^{\hidden \times \layer}$ and
# $b^3 \in \reals^{\hidden}$, return
# $X^3 = \mathrm{relu}(W^3 \ndot{\layer} X^2_{(\height, \width, \chans) \rightarrow \layer} + b^3)$.
# The flattening order matters here: it must be $(\height, \width, \chans)$, as in
# this appendix, for $W^3$'s entries to meet the right pixels.

# %%
def answer(X2, W3, b3, *, layer="layer"):
    ...  # your code here


nt.exercises.report("A2.3", answer)

# %% tags=["hide-cell"]
def answer(X2, W3, b3, *, layer="layer"):
    X = nt.flatten(X2, ("height", "width", "chans"), layer)  # this order
    return nt.relu(nt.contract(W3, X, over=layer) + b3)


assert nt.exercises.check("A2.3", answer)
