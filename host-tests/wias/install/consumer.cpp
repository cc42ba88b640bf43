// A driver author's program built against an installed wias: the Windows
// header names from the compat directory, the C++ interface, two TIFF
// pages and a pass-through RAW page. Exit status 0 when all is well.
#include <wiamindr.h>
#include <wiadef.h>

#include <cstdio>
#include <cstring>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "consumer: %s failed (line %d)\n", #cond, __LINE__);              \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

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
    CHECK(SUCCEEDED(wiasCreateMemoryStream(&pStream)));

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
    CHECK(WritePage(&mdtc, pStream) == S_OK);
    CHECK(WritePage(&mdtc, pStream) == S_OK);
    CHECK(mdtc.lPage == 2);

    CHECK(pStream->Seek(zero, STREAM_SEEK_SET, nullptr) == S_OK);
    CHECK(pStream->Read(header, sizeof header, &cb) == S_OK && cb == sizeof header);
    CHECK(std::memcmp(header, "II*\0", 4) == 0 || std::memcmp(header, "MM\0*", 4) == 0);

    mdtc.guidFormatID = WiaImgFmt_RAW;
    mdtc.lItemSize = 16;
    CHECK(mdtc.guidFormatID == WiaImgFmt_RAW && mdtc.guidFormatID != WiaImgFmt_TIFF);
    CHECK(pStream->Seek(zero, STREAM_SEEK_END, &size) == S_OK);
    ULONGLONG before = size.QuadPart;
    CHECK(WritePage(&mdtc, pStream) == S_OK);
    CHECK(pStream->Seek(zero, STREAM_SEEK_END, &size) == S_OK && size.QuadPart == before + 16);
    CHECK(mdtc.lPage == 2);

    CHECK(pStream->Release() == 0);
    std::printf("consumer (C++): ok, %s\n", wiasHresultName(S_OK));
    return 0;
}
