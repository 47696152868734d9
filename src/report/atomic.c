/* File helpers every writer shares: atomic replace, mkdir -p, timestamps. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dnntrouble/report.h"

static dt_status io_fail(const char *what, const char *path, int err)
{
    return dt_fail(DT_EIO, "%s '%s': %s", what, path, strerror(err));
}

dt_status dt_write_file_atomic(const char *path, const void *data, size_t len)
{
    /* The temp file lives next to the target: rename is atomic only within one file system. */
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) return dt_fail(DT_ENOMEM, "out of memory writing '%s'", path);
    snprintf(tmp, n + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        dt_status st = io_fail("cannot create a temporary file for", path, errno);
        free(tmp);
        return st;
    }
    const char *p = data;
    size_t left = len;
    int err = 0;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { err = w < 0 ? errno : EIO; break; }
        p += w;
        left -= (size_t)w;
    }
    /* mkstemp creates 0600; reports are ordinary readable files. */
    if (!err && fchmod(fd, 0644) != 0) err = errno;
    if (!err && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && rename(tmp, path) != 0) err = errno;
    if (err) {
        unlink(tmp);
        free(tmp);
        return io_fail("cannot write", path, err);
    }
    free(tmp);
    return DT_OK;
}

dt_status dt_mkdir_p(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) return dt_fail(DT_EIO, "path too long: '%s'", dir);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return io_fail("cannot create folder", buf, errno);
            *p = c;
            if (!c) break;
        }
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return dt_fail(DT_EIO, "'%s' is not a folder", dir);
    return DT_OK;
}

void dt_iso8601_now(char *buf, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
