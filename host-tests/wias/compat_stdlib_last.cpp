// Compile test: the Windows header names first, then the C++ standard
// library and POSIX headers. libstdc++ uses __in, __out, __success and
// the like as identifiers; none of the compat macros may touch them.
#include <wiamindr.h>
#include <wiamdef.h>
#include <wiadef.h>
#include <windows.h>
#include <objidl.h>
#include <sal.h>
#include <specstrings.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <istream>
#include <locale>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "com_layout.h"

extern "C" int compat_stdlib_last(void)
{
    std::map<LONG, std::string> ids = {{WIA_IPA_PIXELS_PER_LINE, "width"},
                                       {WIA_IPA_NUMBER_OF_LINES, "height"},
                                       {WIA_IPS_XRES, "xres"}};
    std::vector<BYTE> v(3);

    std::copy_n(reinterpret_cast<const BYTE *>("abc"), 3, v.begin());
    return static_cast<int>(ids.size()) + (v[2] == 'c' ? 0 : 100);
}
