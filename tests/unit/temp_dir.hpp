// A scratch directory under /tmp, removed with everything in it at the end
// of the test.
#pragma once

#include <stdlib.h>

#include <string>

#include "vps/sys.hpp"

namespace vps::test {

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/vz-unit-test.XXXXXX";
        path_ = ::mkdtemp(tmpl) ? tmpl : "";
    }
    ~TempDir() {
        if (!path_.empty()) (void)sys::remove_tree(path_);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

}  // namespace vps::test
