#!/usr/bin/env python3
"""ctypes_train: train a small network from Python through libdeepcore's C
ABI with nothing but the standard library (ctypes; no numpy, no compiled
glue).

    python3 examples/ctypes_train.py [path/to/libdeepcore.so] [--steps N]

A 2-16-1 tanh network learns to tell points inside the circle of radius
1.2 from points outside it (a problem a linear model cannot solve), with
Adam on the binary cross-entropy of its logits. The script declares the
few functions it calls (argtypes and restype), opens a scope per step so
the step's tensors are freed together, and reads results back with
dc_copy_to.

Exits 0 when the held-out accuracy passes 90%, 2 when it does not, 1 on a
library error.
"""
import ctypes
import os
import random
import sys

F32, I64 = 0, 3                       # dc_dtype
LOSS_BCE_WITH_LOGITS, MEAN = 7, 0     # dc_loss_kind, dc_reduction
HIDDEN = 16


def default_library():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "build", "lib", "libdeepcore.so")


def load(path):
    lib = ctypes.CDLL(path)
    T = ctypes.c_void_p               # every handle is an opaque pointer
    i64p = ctypes.POINTER(ctypes.c_int64)
    signatures = {
        "dc_version_string": (ctypes.c_char_p, []),
        "dc_last_error": (ctypes.c_char_p, []),
        "dc_rng_new": (T, [ctypes.c_uint64]),
        "dc_rng_free": (None, [T]),
        "dc_scope_begin": (T, []),
        "dc_scope_end": (ctypes.c_int, [T]),
        "dc_release": (None, [T]),
        "dc_from_data": (T, [ctypes.c_int, ctypes.c_int, i64p, ctypes.c_void_p]),
        "dc_zeros": (T, [ctypes.c_int, ctypes.c_int, i64p]),
        "dc_rand_normal": (T, [T, ctypes.c_int, ctypes.c_int, i64p,
                               ctypes.c_double, ctypes.c_double]),
        "dc_set_requires_grad": (ctypes.c_int, [T, ctypes.c_int]),
        "dc_matmul": (T, [T, T]),
        "dc_add": (T, [T, T]),
        "dc_tanh": (T, [T]),
        "dc_numel": (ctypes.c_int64, [T]),
        "dc_item": (ctypes.c_int, [T, ctypes.POINTER(ctypes.c_double)]),
        "dc_copy_to": (ctypes.c_int, [T, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]),
        "dc_backward": (ctypes.c_int, [T, T, ctypes.c_int]),
        "dc_set_grad_enabled": (ctypes.c_int, [ctypes.c_int]),
        "dc_loss_new": (T, [ctypes.c_int, ctypes.c_int]),
        "dc_loss_release": (None, [T]),
        "dc_loss_forward": (T, [T, T, T]),
        "dc_adam_new": (T, [ctypes.POINTER(T), ctypes.c_int, ctypes.c_double,
                            ctypes.c_double, ctypes.c_double, ctypes.c_double,
                            ctypes.c_double, ctypes.c_int]),
        "dc_optim_release": (None, [T]),
        "dc_optim_zero_grad": (ctypes.c_int, [T]),
        "dc_optim_step": (ctypes.c_int, [T]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


class LibraryError(Exception):
    pass


def make_checks(lib):
    def check_ptr(p, what):
        if not p:
            raise LibraryError("%s failed: %s" % (what, lib.dc_last_error().decode()))
        return p

    def check_ok(status, what):
        if status != 0:
            raise LibraryError("%s failed: %s" % (what, lib.dc_last_error().decode()))
    return check_ptr, check_ok


def shape(*dims):
    return (ctypes.c_int64 * len(dims))(*dims)


def make_points(rnd, n):
    """n points uniform in [-2, 2]^2; label 1 inside the circle of radius 1.2."""
    xs, ys = [], []
    for _ in range(n):
        a, b = rnd.uniform(-2, 2), rnd.uniform(-2, 2)
        xs += [a, b]
        ys.append(1.0 if a * a + b * b < 1.44 else 0.0)
    return xs, ys


def main(argv):
    args = argv[1:]
    steps = 600
    if "--steps" in args:
        i = args.index("--steps")
        steps = int(args[i + 1])
        del args[i:i + 2]
    lib = load(args[0] if args else default_library())
    check_ptr, check_ok = make_checks(lib)
    print("ctypes_train: libdeepcore %s through ctypes, 2-%d-1 tanh network, %d Adam steps"
          % (lib.dc_version_string().decode(), HIDDEN, steps))

    rnd = random.Random(3)
    n_train, n_test = 400, 400
    tx, ty = make_points(rnd, n_train)
    vx, vy = make_points(rnd, n_test)
    x = check_ptr(lib.dc_from_data(F32, 2, shape(n_train, 2), (ctypes.c_float * len(tx))(*tx)), "x")
    y = check_ptr(lib.dc_from_data(F32, 2, shape(n_train, 1), (ctypes.c_float * len(ty))(*ty)), "y")
    x_test = check_ptr(lib.dc_from_data(F32, 2, shape(n_test, 2),
                                        (ctypes.c_float * len(vx))(*vx)), "x_test")

    rng = check_ptr(lib.dc_rng_new(11), "dc_rng_new")
    params = [
        check_ptr(lib.dc_rand_normal(rng, F32, 2, shape(2, HIDDEN), 0.0, 0.7), "w1"),
        check_ptr(lib.dc_zeros(F32, 1, shape(HIDDEN)), "b1"),
        check_ptr(lib.dc_rand_normal(rng, F32, 2, shape(HIDDEN, 1), 0.0, 0.25), "w2"),
        check_ptr(lib.dc_zeros(F32, 1, shape(1)), "b2"),
    ]
    for p in params:
        check_ok(lib.dc_set_requires_grad(p, 1), "dc_set_requires_grad")
    w1, b1, w2, b2 = params
    opt = check_ptr(lib.dc_adam_new((ctypes.c_void_p * 4)(*params), 4, 0.03,
                                    0.9, 0.999, 1e-8, 0.0, 0), "dc_adam_new")
    loss_fn = check_ptr(lib.dc_loss_new(LOSS_BCE_WITH_LOGITS, MEAN), "dc_loss_new")

    def logits(inputs):
        hidden = lib.dc_tanh(lib.dc_add(lib.dc_matmul(inputs, w1), b1))
        return lib.dc_add(lib.dc_matmul(hidden, w2), b2)

    losses = []
    for step in range(1, steps + 1):
        scope = check_ptr(lib.dc_scope_begin(), "dc_scope_begin")
        loss = check_ptr(lib.dc_loss_forward(loss_fn, logits(x), y), "the forward pass")
        value = ctypes.c_double()
        check_ok(lib.dc_item(loss, ctypes.byref(value)), "dc_item")
        check_ok(lib.dc_optim_zero_grad(opt), "zero_grad")
        check_ok(lib.dc_backward(loss, None, 0), "dc_backward")
        check_ok(lib.dc_optim_step(opt), "dc_optim_step")
        check_ok(lib.dc_scope_end(scope), "dc_scope_end")
        losses.append(value.value)
        if step == 1 or step % (max(steps // 6, 1)) == 0:
            print("step %4d  loss %.4f" % (step, value.value))

    # Held-out accuracy: logits > 0 means "inside".
    scope = check_ptr(lib.dc_scope_begin(), "dc_scope_begin")
    previous = lib.dc_set_grad_enabled(0)
    out = check_ptr(logits(x_test), "the test forward pass")
    buf = (ctypes.c_float * n_test)()
    check_ok(lib.dc_copy_to(out, F32, buf, ctypes.sizeof(buf)), "dc_copy_to")
    lib.dc_set_grad_enabled(previous)
    check_ok(lib.dc_scope_end(scope), "dc_scope_end")
    hits = sum(1 for z, t in zip(buf, vy) if (z > 0) == (t > 0.5))
    accuracy = hits / n_test

    for t in params + [x, y, x_test]:
        lib.dc_release(t)
    lib.dc_optim_release(opt)
    lib.dc_loss_release(loss_fn)
    lib.dc_rng_free(rng)

    print("loss %.4f -> %.4f; held-out accuracy %.1f%%" % (losses[0], losses[-1], 100 * accuracy))
    if losses[-1] >= losses[0] or accuracy < 0.9:
        print("did not learn the circle", file=sys.stderr)
        return 2
    print("learned the circle")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (LibraryError, OSError, AttributeError) as e:
        print("ctypes_train: %s" % e, file=sys.stderr)
        sys.exit(1)
