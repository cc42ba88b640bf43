// A driver author's program built against an installed wias: the Windows
// header names from the compat directory, the C++ interface, two TIFF
// pages and a pass-through RAW page. Exit status 0 when all is well.
#include <wiamindr.h>
#include <wiadef.h>

#include <cstdio>
#include <cstring>

/* false (and one line on stderr) when cond is false. */
static bool check(bool ok, const char *what, int line)
{
    if (!ok)
        std::fprintf(stderr, "consumer: %s failed (line %d)\n", what, line);
    return ok;
}
#define CHECK(cond) check((cond), #cond, __LINE__)

static HRESULT WritePage(_Inout_ PMINIDRV_TRANSFER_CONTEXT pmdtc, _In_ IStream *pStream)
{
    return wiasWritePageBufToStream(pmdtc, pStream);
}

int main()
{
    static BYTE page[64 * 8];
    IStream *pStream = nullptr;
    MINIDRV_TRANSFER_CONTEXT mdtc = {};
    LARGE_INTEGER zero = {};
    ULARGE_INTEGER size = {};
    BYTE header[4] = {};
    ULONG cb = 0;

    for (size_t i = 0; i < sizeof page; i++)
        page[i] = static_cast<BYTE>(i * 3);
    if (!CHECK(SUCCEEDED(wiasCreateMemoryStream(&pStream))))
        return 1;

    mdtc.lSize = sizeof mdtc;
    mdtc.lWidthInPixels = 64;
    mdtc.lLines = 8;
    mdtc.lDepth = 8;
    mdtc.lXRes = mdtc.lYRes = 100;
    mdtc.lCompression = WIA_COMPRESSION_NONE;
    mdtc.guidFormatID = WiaImgFmt_TIFF;
    mdtc.cbWidthInBytes = 64;
    mdtc.pTransferBuffer = page;
    mdtc.lBufferSize = sizeof page;
    if (!CHECK(WritePage(&mdtc, pStream) == S_OK))
        return 1;
    if (!CHECK(WritePage(&mdtc, pStream) == S_OK))
        return 1;
    if (!CHECK(mdtc.lPage == 2))
        return 1;

    if (!CHECK(pStream->Seek(zero, STREAM_SEEK_SET, nullptr) == S_OK))
        return 1;
    if (!CHECK(pStream->Read(header, sizeof header, &cb) == S_OK && cb == sizeof header))
        return 1;
    if (!CHECK(std::memcmp(header, "II*\0", 4) == 0 || std::memcmp(header, "MM\0*", 4) == 0))
        return 1;

    mdtc.guidFormatID = WiaImgFmt_RAW;
    mdtc.lItemSize = 16;
    if (!CHECK(mdtc.guidFormatID == WiaImgFmt_RAW && mdtc.guidFormatID != WiaImgFmt_TIFF))
        return 1;
    if (!CHECK(pStream->Seek(zero, STREAM_SEEK_END, &size) == S_OK))
        return 1;
    ULONGLONG before = size.QuadPart;
    if (!CHECK(WritePage(&mdtc, pStream) == S_OK))
        return 1;
    if (!CHECK(pStream->Seek(zero, STREAM_SEEK_END, &size) == S_OK && size.QuadPart == before + 16))
        return 1;
    if (!CHECK(mdtc.lPage == 2))
        return 1;

    if (!CHECK(pStream->Release() == 0))
        return 1;
    std::printf("consumer (C++): ok, %s\n", wiasHresultName(S_OK));
    return 0;
}
