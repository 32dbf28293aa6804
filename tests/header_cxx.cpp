// Built with -std=c++11 -pedantic -Werror: the header works from C++.
#include <deepcore/deepcore.h>

#include <cstring>
#include <memory>

struct release_tensor {
    void operator()(dc_tensor *t) const { dc_release(t); }
};
using tensor_ptr = std::unique_ptr<dc_tensor, release_tensor>;

int main() {
    if (std::strcmp(dc_version_string(), DC_VERSION_STRING) != 0) return 1;
    const int64_t shape[2] = {2, 3};
    tensor_ptr a(dc_ones(DC_F64, 2, shape));
    tensor_ptr s(dc_sum(a.get(), nullptr, 0, 0));
    double v = 0;
    if (!s || dc_item(s.get(), &v) != DC_OK || v != 6.0) return 1;
    return 0;
}
