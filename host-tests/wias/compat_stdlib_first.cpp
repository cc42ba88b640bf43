// Compile test: the C++ standard library (and the POSIX headers a Linux
// build pulls in) first, then every Windows header name the compat
// directory provides. Breaks if a compat macro renames something the
// standard headers declare, or if they already defined a name differently.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <istream>
#include <locale>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <windows.h>
#include <basetsd.h>
#include <basetyps.h>
#include <guiddef.h>
#include <objbase.h>
#include <objidl.h>
#include <ole2.h>
#include <rpcsal.h>
#include <sal.h>
#include <specstrings.h>
#include <unknwn.h>
#include <wiadef.h>
#include <wiamdef.h>
#include <wiamindr.h>
#include <wiamindr_lh.h>
#include <windef.h>
#include <winerror.h>
#include <wtypes.h>

#include "com_layout.h"

extern "C" int compat_stdlib_first(void)
{
    std::vector<GUID> formats = {WiaImgFmt_TIFF, WiaImgFmt_BMP, WiaImgFmt_RAW};
    std::ostringstream out;

    out << std::count_if(formats.begin(), formats.end(),
                         [](REFGUID g) { return g == WiaImgFmt_BMP || g == WiaImgFmt_RAW; });
    return std::stoi(out.str()) + WIA_IPA_DEPTH - 4104;
}
