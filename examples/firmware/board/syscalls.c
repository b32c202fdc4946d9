/*
 * syscalls.c — the system calls newlib needs on this board.  stdout and
 * stderr go to the console (UART0); stdin is empty; there is no file
 * system.  The heap (malloc, operator new) grows from the end of .bss
 * towards the main stack (mps2_an386.ld): _sbrk refuses to cross into it.
 * exit() and abort() print their status and halt the board.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/times.h>

#include "board.h"

extern char __heap_start, __heap_end;

void* _sbrk(ptrdiff_t increment);
int _write(int fd, const char* data, int size);
int _read(int fd, char* data, int size);
int _close(int fd);
int _fstat(int fd, struct stat* st);
int _isatty(int fd);
int _lseek(int fd, int offset, int whence);
int _open(const char* path, int flags, int mode);
int _getpid(void);
int _kill(int pid, int sig);
void _exit(int status) __attribute__((noreturn));
int _gettimeofday(struct timeval* tv, void* tz);
clock_t _times(struct tms* t);

void* _sbrk(ptrdiff_t increment) {
    static char* brk = &__heap_start;
    if (increment > &__heap_end - brk || increment < &__heap_start - brk) {
        errno = ENOMEM;
        return (void*)-1;
    }
    char* old = brk;
    brk += increment;
    return old;
}

int _write(int fd, const char* data, int size) {
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    board_console_write(data, (size_t)size);
    return size;
}

int _read(int fd, char* data, int size) {
    (void)fd;
    (void)data;
    (void)size;
    return 0;
}

int _close(int fd) {
    (void)fd;
    errno = EBADF;
    return -1;
}

int _fstat(int fd, struct stat* st) {
    (void)fd;
    st->st_mode = S_IFCHR; /* a terminal: stdout is line buffered */
    return 0;
}

int _isatty(int fd) { return fd >= 0 && fd <= 2; }

int _lseek(int fd, int offset, int whence) {
    (void)fd;
    (void)offset;
    (void)whence;
    errno = ESPIPE;
    return -1;
}

int _open(const char* path, int flags, int mode) {
    (void)path;
    (void)flags;
    (void)mode;
    errno = ENOENT;
    return -1;
}

int _getpid(void) { return 1; }

int _kill(int pid, int sig) {
    (void)pid;
    if (sig != 0) _exit(128 + sig);
    return 0;
}

void _exit(int status) {
    char text[32];
    snprintf(text, sizeof text, "exit %d", status);
    board_halt(text);
}

int _gettimeofday(struct timeval* tv, void* tz) {
    (void)tz;
    const unsigned long long ms = board_millis();
    tv->tv_sec = (time_t)(ms / 1000u);
    tv->tv_usec = (suseconds_t)(ms % 1000u * 1000u);
    return 0;
}

clock_t _times(struct tms* t) {
    const clock_t ticks = (clock_t)board_millis();
    t->tms_utime = ticks;
    t->tms_stime = 0;
    t->tms_cutime = 0;
    t->tms_cstime = 0;
    return ticks;
}
