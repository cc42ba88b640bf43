/* IStream over a POSIX file descriptor; the seek pointer is the fd offset. */
#include "wias-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct filestream {
    wias_stream_base base; /* first: IStream * converts to the stream */
    int fd;
    BOOL close_on_release;
};

static struct filestream *impl(IStream *This)
{
    return (struct filestream *)This;
}

static ULONG STDMETHODCALLTYPE fs_Release(IStream *This)
{
    struct filestream *fs = impl(This);
    ULONG left = wias_stream_unref(This);

    if (left == 0) {
        if (fs->close_on_release)
            close(fs->fd);
        free(fs);
    }
    return left;
}

static HRESULT STDMETHODCALLTYPE fs_Read(IStream *This, void *pv, ULONG cb, ULONG *pcbRead)
{
    struct filestream *fs = impl(This);
    BYTE *p = pv;
    ULONG done = 0;
    HRESULT hr = S_OK;

    if (!pv && cb)
        return STG_E_INVALIDPOINTER;
    while (done < cb) {
        ssize_t n = read(fs->fd, p + done, cb - done);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            hr = wias_hresult_from_errno(errno, STG_E_READFAULT);
            break;
        }
        if (n == 0)
            break; /* end of file: S_OK with a short count */
        done += (ULONG)n;
    }
    if (pcbRead)
        *pcbRead = done;
    return hr;
}

static HRESULT STDMETHODCALLTYPE fs_Write(IStream *This, const void *pv, ULONG cb,
                                          ULONG *pcbWritten)
{
    struct filestream *fs = impl(This);
    const BYTE *p = pv;
    ULONG done = 0;
    HRESULT hr = S_OK;

    if (!pv && cb)
        return STG_E_INVALIDPOINTER;
    while (done < cb) {
        ssize_t n = write(fs->fd, p + done, cb - done);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            hr = wias_hresult_from_errno(errno, STG_E_WRITEFAULT);
            if (hr == STG_E_INVALIDFUNCTION)
                hr = STG_E_WRITEFAULT;
            break;
        }
        if (n == 0) {
            hr = STG_E_MEDIUMFULL;
            break;
        }
        done += (ULONG)n;
    }
    if (pcbWritten)
        *pcbWritten = done;
    return hr;
}

static HRESULT STDMETHODCALLTYPE fs_Seek(IStream *This, LARGE_INTEGER move, DWORD origin,
                                         ULARGE_INTEGER *newpos)
{
    struct filestream *fs = impl(This);
    off_t base;
    LONGLONG target;
    struct stat st;

    switch (origin) {
    case STREAM_SEEK_SET:
        base = 0;
        break;
    case STREAM_SEEK_CUR:
        base = lseek(fs->fd, 0, SEEK_CUR);
        if (base < 0)
            return wias_hresult_from_errno(errno, STG_E_SEEKERROR);
        break;
    case STREAM_SEEK_END:
        if (fstat(fs->fd, &st) != 0)
            return wias_hresult_from_errno(errno, STG_E_SEEKERROR);
        base = st.st_size;
        break;
    default:
        return STG_E_INVALIDFUNCTION;
    }
    if (__builtin_add_overflow((LONGLONG)base, move.QuadPart, &target) || target < 0)
        return STG_E_INVALIDFUNCTION;
    if (lseek(fs->fd, (off_t)target, SEEK_SET) < 0)
        return wias_hresult_from_errno(errno, STG_E_SEEKERROR);
    if (newpos)
        newpos->QuadPart = (ULONGLONG)target;
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE fs_SetSize(IStream *This, ULARGE_INTEGER newsize)
{
    struct filestream *fs = impl(This);

    if (newsize.QuadPart > (ULONGLONG)INT64_MAX)
        return STG_E_INVALIDFUNCTION;
    while (ftruncate(fs->fd, (off_t)newsize.QuadPart) != 0) {
        if (errno != EINTR)
            return wias_hresult_from_errno(errno, STG_E_WRITEFAULT);
    }
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE fs_Commit(IStream *This, DWORD flags)
{
    (void)flags;
    if (fsync(impl(This)->fd) != 0 && errno != EINVAL && errno != EROFS)
        return wias_hresult_from_errno(errno, STG_E_WRITEFAULT);
    return S_OK;
}

static HRESULT STDMETHODCALLTYPE fs_Stat(IStream *This, STATSTG *out, DWORD flag)
{
    struct filestream *fs = impl(This);
    struct stat st;
    int fl;

    if (!out)
        return STG_E_INVALIDPOINTER;
    if (flag > STATFLAG_NOOPEN)
        return STG_E_INVALIDFLAG;
    if (fstat(fs->fd, &st) != 0)
        return wias_hresult_from_errno(errno, STG_E_ACCESSDENIED);
    memset(out, 0, sizeof *out);
    out->type = STGTY_STREAM;
    out->cbSize.QuadPart = (ULONGLONG)st.st_size;
    out->mtime = wias_filetime_from_unix(st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    out->ctime = wias_filetime_from_unix(st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
    out->atime = wias_filetime_from_unix(st.st_atim.tv_sec, st.st_atim.tv_nsec);
    fl = fcntl(fs->fd, F_GETFL);
    if (fl >= 0 && (fl & O_ACCMODE) == O_RDWR)
        out->grfMode = STGM_READWRITE;
    else if (fl >= 0 && (fl & O_ACCMODE) == O_WRONLY)
        out->grfMode = STGM_WRITE;
    else
        out->grfMode = STGM_READ;
    return S_OK;
}

static const IStreamVtbl filestream_vtbl = {
    .QueryInterface = wias_stream_QueryInterface,
    .AddRef = wias_stream_AddRef,
    .Release = fs_Release,
    .Read = fs_Read,
    .Write = fs_Write,
    .Seek = fs_Seek,
    .SetSize = fs_SetSize,
    .CopyTo = wias_stream_copyto,
    .Commit = fs_Commit,
    .Revert = wias_stream_Revert_noop,
    .LockRegion = wias_stream_LockRegion_unsupported,
    .UnlockRegion = wias_stream_LockRegion_unsupported,
    .Stat = fs_Stat,
    .Clone = wias_stream_Clone_notimpl,
};

HRESULT wiasCreateStreamOnFd(int fd, BOOL fCloseOnRelease, IStream **ppstm)
{
    struct filestream *fs;

    if (!ppstm)
        return E_POINTER;
    if (fd < 0)
        return E_HANDLE;
    fs = calloc(1, sizeof *fs);
    if (!fs)
        return E_OUTOFMEMORY;
    wias_stream_base_init(&fs->base, &filestream_vtbl);
    fs->fd = fd;
    fs->close_on_release = fCloseOnRelease;
    *ppstm = &fs->base.iface;
    return S_OK;
}

HRESULT wiasCreateStreamOnFile(const char *pszPath, DWORD grfMode, IStream **ppstm)
{
    int flags = O_CLOEXEC;
    int fd;
    HRESULT hr;

    if (!pszPath || !ppstm)
        return E_POINTER;
    if (grfMode & ~(DWORD)(STGM_WRITE | STGM_READWRITE | STGM_CREATE))
        return STG_E_INVALIDFLAG;
    switch (grfMode & 3) {
    case STGM_READ:
        flags |= O_RDONLY;
        break;
    case STGM_WRITE:
        flags |= O_WRONLY;
        break;
    case STGM_READWRITE:
        flags |= O_RDWR;
        break;
    default:
        return STG_E_INVALIDFLAG;
    }
    if (grfMode & STGM_CREATE) {
        if ((grfMode & 3) == STGM_READ)
            return STG_E_INVALIDFLAG;
        flags |= O_CREAT | O_TRUNC;
    }
    do {
        fd = open(pszPath, flags, 0666);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return wias_hresult_from_errno(errno, STG_E_ACCESSDENIED);
    hr = wiasCreateStreamOnFd(fd, TRUE, ppstm);
    if (FAILED(hr))
        close(fd);
    return hr;
}
