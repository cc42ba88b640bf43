// The C++ side of the layout tests: COM objects implemented as C++ classes,
// and C++ code calling C-implemented COM objects (the wias streams).
#include <initguid.h>
#include <objidl.h>
#include <wiamindr.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <new>
#include <type_traits>

#include "com_layout.h"

// A vendor format, defined here by DEFINE_GUID after <initguid.h>.
DEFINE_GUID(GUID_SampleVendorFormat, 0x1d2c3b4a, 0x5f6e, 0x4788, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
            0xff, 0x01);

// One pointer to a table of virtual functions, nothing else: the C layout.
static_assert(sizeof(IUnknown) == sizeof(void *), "IUnknown is one vtable pointer");
static_assert(sizeof(IStream) == sizeof(void *), "IStream is one vtable pointer");
static_assert(sizeof(IWiaMiniDrvCallBack) == sizeof(void *), "one vtable pointer");
static_assert(std::is_polymorphic<IStream>::value, "IStream has virtual methods");
static_assert(std::is_abstract<IStream>::value, "IStream is an interface");
static_assert(std::is_base_of<ISequentialStream, IStream>::value, "IStream : ISequentialStream");
static_assert(std::is_base_of<IUnknown, ISequentialStream>::value, "ISequentialStream : IUnknown");
static_assert(!std::has_virtual_destructor<IStream>::value, "no destructor slot in the table");
static_assert(std::is_reference<REFGUID>::value && std::is_reference<REFIID>::value &&
                  std::is_reference<REFCLSID>::value,
              "REFGUID/REFIID/REFCLSID are references in C++");
static_assert(sizeof(IStreamVtbl) == LAYOUT_SLOTS * sizeof(void *), "14 slots");
static_assert(offsetof(IStreamVtbl, Write) == 4 * sizeof(void *), "Write is slot 4");
static_assert(offsetof(IStreamVtbl, Clone) == 13 * sizeof(void *), "Clone is slot 13");

namespace
{

void Record(layout_record *pRec, int slot, const void *self, LONGLONG witness)
{
    if (pRec->ncalls < 2 * LAYOUT_SLOTS) {
        pRec->slot[pRec->ncalls] = slot;
        pRec->self[pRec->ncalls] = self;
        pRec->witness[pRec->ncalls] = witness;
        pRec->ncalls++;
    }
}

// Every method records its own slot number (COM order) and an argument.
class CProbeStream final : public IStream
{
  public:
    explicit CProbeStream(layout_record *pRec) : m_pRec(pRec)
    {
    }

    STDMETHODIMP QueryInterface(REFIID riid, void **ppv) override
    {
        Record(m_pRec, 0, this, riid.Data1);
        *ppv = nullptr;
        return E_NOINTERFACE;
    }
    STDMETHODIMP_(ULONG) AddRef() override
    {
        Record(m_pRec, 1, this, 0);
        return 2;
    }
    STDMETHODIMP_(ULONG) Release() override
    {
        Record(m_pRec, 2, this, 0);
        return 1;
    }
    STDMETHODIMP Read(void *, ULONG cb, ULONG *pcbRead) override
    {
        Record(m_pRec, 3, this, cb);
        if (pcbRead)
            *pcbRead = 0;
        return S_OK;
    }
    STDMETHODIMP Write(const void *, ULONG cb, ULONG *pcbWritten) override
    {
        Record(m_pRec, 4, this, cb);
        if (pcbWritten)
            *pcbWritten = cb;
        return S_OK;
    }
    STDMETHODIMP Seek(LARGE_INTEGER dlibMove, DWORD dwOrigin, ULARGE_INTEGER *) override
    {
        Record(m_pRec, 5, this, dlibMove.QuadPart + dwOrigin);
        return S_OK;
    }
    STDMETHODIMP SetSize(ULARGE_INTEGER libNewSize) override
    {
        Record(m_pRec, 6, this, static_cast<LONGLONG>(libNewSize.QuadPart));
        return S_OK;
    }
    STDMETHODIMP CopyTo(IStream *, ULARGE_INTEGER cb, ULARGE_INTEGER *, ULARGE_INTEGER *) override
    {
        Record(m_pRec, 7, this, static_cast<LONGLONG>(cb.QuadPart));
        return S_OK;
    }
    STDMETHODIMP Commit(DWORD grfCommitFlags) override
    {
        Record(m_pRec, 8, this, grfCommitFlags);
        return S_OK;
    }
    STDMETHODIMP Revert() override
    {
        Record(m_pRec, 9, this, 0);
        return S_OK;
    }
    STDMETHODIMP LockRegion(ULARGE_INTEGER libOffset, ULARGE_INTEGER, DWORD) override
    {
        Record(m_pRec, 10, this, static_cast<LONGLONG>(libOffset.QuadPart));
        return S_OK;
    }
    STDMETHODIMP UnlockRegion(ULARGE_INTEGER libOffset, ULARGE_INTEGER, DWORD) override
    {
        Record(m_pRec, 11, this, static_cast<LONGLONG>(libOffset.QuadPart));
        return S_OK;
    }
    STDMETHODIMP Stat(STATSTG *, DWORD grfStatFlag) override
    {
        Record(m_pRec, 12, this, grfStatFlag);
        return S_OK;
    }
    STDMETHODIMP Clone(IStream **ppstm) override
    {
        Record(m_pRec, 13, this, 0);
        *ppstm = nullptr;
        return E_NOTIMPL;
    }

  private:
    layout_record *m_pRec;
};

// An application stream in C++: forwards to a wias stream, counts bytes.
class CCountingStream final : public IStream
{
  public:
    explicit CCountingStream(IStream *pInner) : m_cRef(1), m_pInner(pInner), m_cbWritten(0)
    {
        m_pInner->AddRef();
    }

    ULONGLONG BytesWritten() const
    {
        return m_cbWritten;
    }

    STDMETHODIMP QueryInterface(REFIID riid, void **ppv) override
    {
        if (!ppv)
            return E_POINTER;
        if (riid == IID_IUnknown || riid == IID_ISequentialStream || riid == IID_IStream) {
            *ppv = static_cast<IStream *>(this);
            AddRef();
            return S_OK;
        }
        *ppv = nullptr;
        return E_NOINTERFACE;
    }
    STDMETHODIMP_(ULONG) AddRef() override
    {
        return ++m_cRef;
    }
    STDMETHODIMP_(ULONG) Release() override
    {
        ULONG cRef = --m_cRef;
        if (cRef == 0) {
            m_pInner->Release();
            delete this;
        }
        return cRef;
    }
    STDMETHODIMP Read(void *pv, ULONG cb, ULONG *pcbRead) override
    {
        return m_pInner->Read(pv, cb, pcbRead);
    }
    STDMETHODIMP Write(const void *pv, ULONG cb, ULONG *pcbWritten) override
    {
        ULONG cbDone = 0;
        HRESULT hr = m_pInner->Write(pv, cb, &cbDone);
        m_cbWritten += cbDone;
        if (pcbWritten)
            *pcbWritten = cbDone;
        return hr;
    }
    STDMETHODIMP Seek(LARGE_INTEGER dlibMove, DWORD dwOrigin, ULARGE_INTEGER *plibNew) override
    {
        return m_pInner->Seek(dlibMove, dwOrigin, plibNew);
    }
    STDMETHODIMP SetSize(ULARGE_INTEGER libNewSize) override
    {
        return m_pInner->SetSize(libNewSize);
    }
    STDMETHODIMP CopyTo(IStream *pstm, ULARGE_INTEGER cb, ULARGE_INTEGER *pcbRead,
                        ULARGE_INTEGER *pcbWritten) override
    {
        return m_pInner->CopyTo(pstm, cb, pcbRead, pcbWritten);
    }
    STDMETHODIMP Commit(DWORD grfCommitFlags) override
    {
        return m_pInner->Commit(grfCommitFlags);
    }
    STDMETHODIMP Revert() override
    {
        return m_pInner->Revert();
    }
    STDMETHODIMP LockRegion(ULARGE_INTEGER libOffset, ULARGE_INTEGER cb, DWORD type) override
    {
        return m_pInner->LockRegion(libOffset, cb, type);
    }
    STDMETHODIMP UnlockRegion(ULARGE_INTEGER libOffset, ULARGE_INTEGER cb, DWORD type) override
    {
        return m_pInner->UnlockRegion(libOffset, cb, type);
    }
    STDMETHODIMP Stat(STATSTG *pstatstg, DWORD grfStatFlag) override
    {
        return m_pInner->Stat(pstatstg, grfStatFlag);
    }
    STDMETHODIMP Clone(IStream **ppstm) override
    {
        *ppstm = nullptr;
        return E_NOTIMPL;
    }

  private:
    std::atomic<ULONG> m_cRef;
    IStream *m_pInner;
    ULONGLONG m_cbWritten;
};

// The WIA service's side of progress reporting, as a test double.
class CProgressSink final : public IWiaMiniDrvCallBack
{
  public:
    explicit CProgressSink(LONG lCancelAt)
        : m_cRef(1), m_lCancelAt(lCancelAt), m_lCalls(0), m_lLastPercent(-1)
    {
    }

    LONG Calls() const
    {
        return m_lCalls;
    }
    LONG LastPercent() const
    {
        return m_lLastPercent;
    }

    STDMETHOD(QueryInterface)(REFIID riid, void **ppv) override
    {
        if (riid == IID_IUnknown || riid == IID_IWiaMiniDrvCallBack) {
            *ppv = static_cast<IWiaMiniDrvCallBack *>(this);
            AddRef();
            return S_OK;
        }
        *ppv = nullptr;
        return E_NOINTERFACE;
    }
    STDMETHOD_(ULONG, AddRef)() override
    {
        return ++m_cRef;
    }
    STDMETHOD_(ULONG, Release)() override
    {
        ULONG cRef = --m_cRef;
        if (cRef == 0)
            delete this;
        return cRef;
    }
    STDMETHOD(MiniDrvCallback)
    (LONG lReason, LONG lStatus, LONG lPercentComplete, LONG, LONG,
     PMINIDRV_TRANSFER_CONTEXT pTranCtx, LONG lReserved) override
    {
        if (lReason != IT_MSG_STATUS || !(lStatus & IT_STATUS_TRANSFER_TO_CLIENT) || !pTranCtx ||
            lReserved != 0)
            return E_INVALIDARG;
        m_lCalls++;
        m_lLastPercent = lPercentComplete;
        return m_lCalls == m_lCancelAt ? S_FALSE : S_OK;
    }

  private:
    std::atomic<ULONG> m_cRef;
    LONG m_lCancelAt;
    LONG m_lCalls;
    LONG m_lLastPercent;
};

ULARGE_INTEGER U(ULONGLONG v)
{
    ULARGE_INTEGER u;
    u.QuadPart = v;
    return u;
}

LARGE_INTEGER L(LONGLONG v)
{
    LARGE_INTEGER l;
    l.QuadPart = v;
    return l;
}

// The common IStream checks, from C++, on a fresh empty stream.
const char *UseStream(_In_ IStream *pStream)
{
    static const char text[] = "scanemu wias from C++";
    BYTE buf[sizeof text] = {};
    ULONG cb = 0;
    ULARGE_INTEGER pos;
    STATSTG st;
    void *pv = nullptr;

    if (pStream->Write(text, sizeof text, &cb) != S_OK || cb != sizeof text)
        return "Write";
    if (pStream->Seek(L(0), STREAM_SEEK_CUR, &pos) != S_OK || pos.QuadPart != sizeof text)
        return "Seek CUR";
    if (pStream->Seek(L(-1), STREAM_SEEK_SET, nullptr) != STG_E_INVALIDFUNCTION)
        return "Seek before 0";
    if (pStream->Seek(L(0), STREAM_SEEK_SET, nullptr) != S_OK)
        return "Seek SET";
    if (pStream->Read(buf, sizeof buf, &cb) != S_OK || cb != sizeof text ||
        std::memcmp(buf, text, sizeof text) != 0)
        return "Read";
    if (pStream->Stat(&st, STATFLAG_NONAME) != S_OK || st.type != STGTY_STREAM ||
        st.cbSize.QuadPart != sizeof text)
        return "Stat";
    if (pStream->SetSize(U(4)) != S_OK || pStream->Stat(&st, STATFLAG_NONAME) != S_OK ||
        st.cbSize.QuadPart != 4)
        return "SetSize";
    if (pStream->QueryInterface(IID_IStream, &pv) != S_OK || pv != pStream)
        return "QueryInterface(IStream)";
    static_cast<IStream *>(pv)->Release();
    if (pStream->QueryInterface(IID_ISequentialStream, &pv) != S_OK || pv != pStream)
        return "QueryInterface(ISequentialStream)";
    static_cast<ISequentialStream *>(pv)->Release();
    if (pStream->QueryInterface(IID_IWiaMiniDrvCallBack, &pv) != E_NOINTERFACE || pv)
        return "QueryInterface(other)";
    if (pStream->Commit(STGC_DEFAULT) != S_OK || pStream->Revert() != S_OK)
        return "Commit/Revert";
    if (pStream->LockRegion(U(0), U(1), WIAS_LOCK_WRITE) != STG_E_INVALIDFUNCTION)
        return "LockRegion";
    IStream *pClone = nullptr;
    if (pStream->Clone(&pClone) != E_NOTIMPL || pClone)
        return "Clone";
    if (pStream->AddRef() != 2 || pStream->Release() != 1)
        return "AddRef/Release";
    return nullptr;
}

} // namespace

extern "C" IStream *layout_cxx_probe_new(layout_record *rec)
{
    return new (std::nothrow) CProbeStream(rec);
}

extern "C" void layout_cxx_probe_free(IStream *p)
{
    delete static_cast<CProbeStream *>(p);
}

extern "C" void layout_call_all_cxx(IStream *p)
{
    IID iid = IID_IStream;
    BYTE b[8];
    ULONG cb;
    ULARGE_INTEGER u;
    STATSTG st;
    IStream *pClone;
    void *pv;

    iid.Data1 = 1000;
    p->QueryInterface(iid, &pv);
    p->AddRef();
    p->Release();
    p->Read(b, 1003, &cb);
    p->Write(b, 1004, &cb);
    p->Seek(L(1005 - STREAM_SEEK_END), STREAM_SEEK_END, &u);
    p->SetSize(U(1006));
    p->CopyTo(p, U(1007), &u, &u);
    p->Commit(1008);
    p->Revert();
    p->LockRegion(U(1010), U(1), 0);
    p->UnlockRegion(U(1011), U(1), 0);
    p->Stat(&st, 1012);
    p->Clone(&pClone);
}

extern "C" const void *layout_cxx_vptr_of(IStream *p)
{
    const void *vptr;
    std::memcpy(&vptr, static_cast<const void *>(p), sizeof vptr);
    return vptr;
}

extern "C" const char *layout_cxx_use_memory_stream(void)
{
    IStream *pStream = nullptr;
    const char *err;

    if (FAILED(wiasCreateMemoryStream(&pStream)))
        return "wiasCreateMemoryStream";
    err = UseStream(pStream);
    if (!err && pStream->Release() != 0)
        err = "final Release";
    return err;
}

extern "C" const char *layout_cxx_use_file_stream(const char *path)
{
    IStream *pStream = nullptr;
    const char *err;

    if (FAILED(wiasCreateStreamOnFile(path, STGM_READWRITE | STGM_CREATE, &pStream)))
        return "wiasCreateStreamOnFile";
    err = UseStream(pStream);
    if (!err && pStream->Release() != 0)
        err = "final Release";
    return err;
}

extern "C" IStream *layout_cxx_counting_stream_new(IStream *inner)
{
    return new (std::nothrow) CCountingStream(inner);
}

extern "C" ULONGLONG layout_cxx_counting_stream_bytes(IStream *p)
{
    return static_cast<CCountingStream *>(p)->BytesWritten();
}

extern "C" IWiaMiniDrvCallBack *layout_cxx_progress_new(LONG cancel_at)
{
    return new (std::nothrow) CProgressSink(cancel_at);
}

extern "C" LONG layout_cxx_progress_calls(IWiaMiniDrvCallBack *p)
{
    return static_cast<CProgressSink *>(p)->Calls();
}

extern "C" LONG layout_cxx_progress_last_percent(IWiaMiniDrvCallBack *p)
{
    return static_cast<CProgressSink *>(p)->LastPercent();
}

extern "C" const char *layout_cxx_guid_checks(void)
{
    GUID copy = WiaImgFmt_TIFF;
    REFGUID ref = copy;

    if (!(copy == WiaImgFmt_TIFF) || copy != WiaImgFmt_TIFF)
        return "== / != on equal GUIDs";
    if (WiaImgFmt_TIFF == WiaImgFmt_BMP || !(WiaImgFmt_TIFF != WiaImgFmt_BMP))
        return "== / != on different GUIDs";
    if (!IsEqualGUID(ref, WiaImgFmt_TIFF) || IsEqualGUID(ref, GUID_NULL))
        return "IsEqualGUID";
    if (!InlineIsEqualGUID(ref, WiaImgFmt_TIFF) || InlineIsEqualGUID(ref, WiaImgFmt_BMP))
        return "InlineIsEqualGUID";
    if (!IsEqualIID(IID_IStream, IID_IStream) || IsEqualIID(IID_IStream, IID_IUnknown))
        return "IsEqualIID";
    if (!IsEqualCLSID(CLSID_NULL, GUID_NULL) || !(IID_NULL == GUID_NULL))
        return "IsEqualCLSID / IID_NULL";
    copy.Data4[7] ^= 1; // the last byte counts
    if (ref == WiaImgFmt_TIFF || InlineIsEqualGUID(ref, WiaImgFmt_TIFF))
        return "a one-bit difference";
    if (GUID_SampleVendorFormat.Data1 != 0x1d2c3b4a || GUID_SampleVendorFormat.Data4[7] != 0x01 ||
        GUID_SampleVendorFormat == GUID_NULL)
        return "DEFINE_GUID under INITGUID";
    return nullptr;
}
