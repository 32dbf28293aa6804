/*
 * cpp_api: libdeepcore from C++11 through the small RAII layer in
 * examples/deepcore.hpp. A 1-32-32-1 tanh MLP learns y = sin(x) on
 * [-3, 3] with AdamW; every handle is released by its owner, errors
 * become exceptions, and a step's intermediates die with a dcpp::Scope.
 *
 *   ./build/examples/cpp_api [--steps N] [--seed S]
 *
 * Exits 0 when the held-out MSE falls below 0.01, 2 when it does not,
 * 1 on a library error.
 */
#include "deepcore.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

struct options {
    long steps = 500;
    unsigned long long seed = 1;
};

bool parse_options(int argc, char **argv, options &o) {
    for (int i = 1; i + 1 < argc; i += 2) {
        char *end = nullptr;
        if (!std::strcmp(argv[i], "--steps")) o.steps = std::strtol(argv[i + 1], &end, 10);
        else if (!std::strcmp(argv[i], "--seed")) o.seed = std::strtoull(argv[i + 1], &end, 10);
        else return false;
        if (!end || *end) return false;
    }
    return argc % 2 == 1 && o.steps > 0;
}

/* n points x ~ U(-3, 3) and y = sin(x), each (n, 1) f32. */
void make_data(dc_rng *rng, int64_t n, dcpp::Tensor &x, dcpp::Tensor &y) {
    const int64_t shape[2] = {n, 1};
    x = dcpp::keep("x", [&] { return dc_rand_uniform(rng, DC_F32, 2, shape, -3, 3); });
    std::vector<float> xs(static_cast<size_t>(n));
    dcpp::check(dc_copy_to(x.get(), DC_F32, xs.data(), xs.size() * sizeof(float)), "reading x");
    for (float &v : xs) v = std::sin(v);
    y = dcpp::keep("y", [&] { return dc_from_data(DC_F32, 2, shape, xs.data()); });
}

double evaluate(dc_module *model, const dcpp::Tensor &x, const dcpp::Tensor &y) {
    dcpp::Scope scope;
    dc_module_set_training(model, 0);
    int prev = dc_set_grad_enabled(0);
    double mse = -1;
    dc_status st = dc_metric_mse(dc_module_forward(model, x.get()), y.get(), &mse);
    dc_set_grad_enabled(prev);
    dc_module_set_training(model, 1);
    dcpp::check(st, "evaluating");
    return mse;
}

int run(const options &o) {
    auto rng = dcpp::own(dc_rng_new(o.seed), "dc_rng_new");
    dcpp::Tensor x, y, x_test, y_test;
    make_data(rng.get(), 256, x, y);
    make_data(rng.get(), 128, x_test, y_test);

    const int64_t sizes[] = {1, 32, 32, 1};
    auto model = dcpp::own(dc_zoo_mlp_new(sizes, 4, DC_ACT_TANH, 0.0, rng.get()), "the model");
    std::vector<dcpp::Tensor> params;
    for (int64_t i = 0; i < dc_module_param_count(model.get()); i++)
        params.push_back(dcpp::keep("a parameter", [&] { return dc_module_param(model.get(), i); }));
    std::vector<dc_tensor *> raw;
    for (const dcpp::Tensor &p : params) raw.push_back(p.get());
    auto opt = dcpp::own(dc_adamw_new(raw.data(), static_cast<int>(raw.size()), 0.01, 0.9,
                                      0.999, 1e-8, 0.0, 0),
                         "the optimizer");
    auto mse = dcpp::own(dc_loss_new(DC_LOSS_MSE, DC_REDUCTION_MEAN), "the loss");
    std::printf("cpp_api: %s, MLP 1-32-32-1 (tanh), %zu parameter tensors, %ld AdamW steps\n",
                dc_version_string(), params.size(), o.steps);

    for (long step = 1; step <= o.steps; step++) {
        dcpp::Scope scope;   /* frees the step's tensors, also on an exception */
        dc_tensor *loss = dcpp::check(
            dc_loss_forward(mse.get(), dc_module_forward(model.get(), x.get()), y.get()),
            "the forward pass");
        dcpp::check(dc_optim_zero_grad(opt.get()), "zero_grad");
        dcpp::check(dc_backward(loss, nullptr, 0), "backward");
        dcpp::check(dc_optim_step(opt.get()), "the optimizer step");
        if (step == 1 || step % (o.steps / 5 > 0 ? o.steps / 5 : 1) == 0) {
            double v = 0;
            dcpp::check(dc_item(loss, &v), "reading the loss");
            std::printf("step %5ld  train MSE %.3e\n", step, v);
        }
    }
    double test_mse = evaluate(model.get(), x_test, y_test);
    std::printf("held-out MSE %.3e\n", test_mse);

    /* A failing call throws, naming what failed; the handles still clean up. */
    try {
        const int64_t wrong[2] = {4, 3};
        dcpp::keep("a forward pass on (4, 3) input",
                   [&] { return dc_module_forward(model.get(), dc_zeros(DC_F32, 2, wrong)); });
        std::printf("a mis-shaped input was accepted: that is a bug\n");
        return 2;
    } catch (const dcpp::error &e) {
        std::printf("caught as expected (%s): %s\n", dc_status_str(e.status()), e.what());
    }
    return test_mse < 0.01 ? 0 : 2;
}

}  // namespace

int main(int argc, char **argv) {
    options o;
    if (!parse_options(argc, argv, o)) {
        std::fprintf(stderr, "usage: cpp_api [--steps N] [--seed S]\n");
        return 1;
    }
    int rc;
    try {
        rc = run(o);
    } catch (const dcpp::error &e) {
        std::fprintf(stderr, "cpp_api: %s\n", e.what());
        return 1;
    }
    if (dc_live_allocations() != 0) {
        std::fprintf(stderr, "cpp_api: %lld library allocations still live\n",
                     static_cast<long long>(dc_live_allocations()));
        return 1;
    }
    std::printf("%s\n", rc == 0 ? "learned sin(x); every handle released" : "did not learn");
    return rc;
}
