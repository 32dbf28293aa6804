/*
 * deepcore.hpp: a small header-only C++11 layer over libdeepcore's C API,
 * used by examples/cpp_api.cpp. It is not part of the library; copy it
 * into a project and extend it as needed.
 *
 * What it adds, and nothing more:
 *  - dcpp::error, thrown with dc_last_error()'s message when a call fails;
 *  - unique_ptr handles that release modules, optimizers, losses,
 *    schedules, loaders and generators when they go out of scope;
 *  - dcpp::Scope, a dc_scope that ends with the C++ block (also when an
 *    exception leaves it);
 *  - dcpp::Tensor, which owns one reference to a dc_tensor (copying it
 *    retains, destroying it releases), and dcpp::keep(), which runs a
 *    chain of C calls in a private scope and keeps only its result.
 */
#ifndef DEEPCORE_EXAMPLES_DEEPCORE_HPP
#define DEEPCORE_EXAMPLES_DEEPCORE_HPP

#include <deepcore/deepcore.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace dcpp {

class error : public std::runtime_error {
public:
    error(const std::string &what, dc_status status)
        : std::runtime_error(what + ": " + dc_last_error()), status_(status) {}
    dc_status status() const { return status_; }

private:
    dc_status status_;
};

inline void check(dc_status st, const char *what) {
    if (st != DC_OK) throw error(what, st);
}

template <class T> T *check(T *p, const char *what) {
    if (!p) throw error(what, dc_last_status());
    return p;
}

/* One deleter for every C handle type. */
struct deleter {
    void operator()(dc_module *m) const { dc_module_release(m); }
    void operator()(dc_optim *o) const { dc_optim_release(o); }
    void operator()(dc_loss *l) const { dc_loss_release(l); }
    void operator()(dc_sched *s) const { dc_sched_release(s); }
    void operator()(dc_loader *l) const { dc_loader_release(l); }
    void operator()(dc_rng *r) const { dc_rng_free(r); }
};
template <class T> using handle = std::unique_ptr<T, deleter>;

/* Takes over a new C handle, throwing when the constructor failed. */
template <class T> handle<T> own(T *p, const char *what) {
    return handle<T>(check(p, what));
}

/* A dc_scope for the lifetime of a C++ block. */
class Scope {
public:
    Scope() : s_(dc_scope_begin()) {
        if (!s_) throw error("dc_scope_begin", dc_last_status());
    }
    ~Scope() { dc_scope_end(s_); }
    Scope(const Scope &) = delete;
    Scope &operator=(const Scope &) = delete;

private:
    dc_scope *s_;
};

/* Owns one reference to a tensor. */
class Tensor {
public:
    Tensor() : t_(nullptr) {}
    /* A new reference to t (the tensor may belong to a scope). */
    static Tensor share(dc_tensor *t) { return Tensor(dc_retain(check(t, "tensor"))); }
    Tensor(const Tensor &o) : t_(dc_retain(o.t_)) {}
    Tensor(Tensor &&o) noexcept : t_(o.t_) { o.t_ = nullptr; }
    Tensor &operator=(Tensor o) noexcept {
        std::swap(t_, o.t_);
        return *this;
    }
    ~Tensor() { dc_release(t_); }

    dc_tensor *get() const { return t_; }
    int64_t numel() const { return dc_numel(t_); }
    double item() const {
        double v = 0;
        check(dc_item(t_, &v), "dc_item");
        return v;
    }

private:
    explicit Tensor(dc_tensor *t) : t_(t) {}
    dc_tensor *t_;
};

/* Runs f (returning a dc_tensor*) inside a private scope and returns its
 * result as an owned Tensor: the intermediates are freed with the scope.
 * Throws dcpp::error (naming what) when f returns NULL. */
template <class F> Tensor keep(const char *what, F f) {
    Scope scope;
    dc_tensor *result = f();
    if (!result) throw error(what, dc_last_status());
    return Tensor::share(result);
}

}  // namespace dcpp

#endif
