/*
 * hangar-reseed: the test guest's reseed helper (compiled by scripts/guest/reseed-helper.ts).
 *
 * Reads 64 to 128 lower-case hex digits (32 to 64 bytes the worker drew from its CSPRNG) on
 * stdin, adds them to the kernel's input pool with RNDADDENTROPY, crediting 8 bits a byte,
 * then forces a CRNG reseed with RNDRESEEDCRNG. A write to /dev/urandom would only mix the
 * bytes into the input pool: the CRNG key, which a restored clone shares with its source,
 * stays until the next scheduled reseed (up to a minute away). After RNDRESEEDCRNG the base
 * key is new and its generation bumped, so every CPU's next read derives from it.
 *
 * Prints "reseeded bytes=N" and exits 0; otherwise says why on stderr and exits 1 (bad
 * input), 2 (opening /dev/urandom failed) or 3 (an ioctl failed: errno 1 = not root).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

enum { MIN_BYTES = 32, MAX_BYTES = 64 };

/* Plain write(2), no stdio: keeps the static binary small (glibc's printf pulls in locales). */
static void say(int fd, const char *text)
{
	ssize_t ignored = write(fd, text, strlen(text));
	(void)ignored;
}

/* `n` in decimal, written into the end of `digits`. */
static const char *decimal(char digits[12], unsigned int n)
{
	int at = 11;
	digits[at] = '\0';
	do
		digits[--at] = (char)('0' + n % 10);
	while ((n /= 10) > 0 && at > 0);
	return digits + at;
}

/* "hangar-reseed: <what>: errno N" on stderr; returns `code` for main to exit with. */
static int fail(const char *what, int code)
{
	char digits[12];
	const char *number = decimal(digits, (unsigned int)errno);
	say(2, "hangar-reseed: ");
	say(2, what);
	say(2, ": errno ");
	say(2, number);
	say(2, "\n");
	return code;
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int main(void)
{
	char text[2 * MAX_BYTES + 2];
	size_t length = 0;
	ssize_t got;

	/* Reads up to two characters more than allowed, so an over-long input is refused, not cut. */
	while (length < sizeof(text) && (got = read(0, text + length, sizeof(text) - length)) > 0)
		length += (size_t)got;
	while (length > 0 && (text[length - 1] == '\n' || text[length - 1] == '\r'))
		length -= 1;
	if (length % 2 != 0 || length < 2 * MIN_BYTES || length > 2 * MAX_BYTES) {
		say(2, "hangar-reseed: want 64 to 128 hex digits, an even count\n");
		return 1;
	}

	/* struct rand_pool_info ends in a flexible array: the bytes follow it in this struct. */
	struct {
		struct rand_pool_info info;
		unsigned char bytes[MAX_BYTES];
	} request;
	size_t count = length / 2;
	for (size_t i = 0; i < count; i += 1) {
		int high = hex_value(text[2 * i]);
		int low = hex_value(text[2 * i + 1]);
		if (high < 0 || low < 0) {
			say(2, "hangar-reseed: not lower-case hex\n");
			return 1;
		}
		request.bytes[i] = (unsigned char)(high << 4 | low);
	}
	request.info.entropy_count = (int)(8 * count);
	request.info.buf_size = (int)count;

	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("open /dev/urandom", 2);
	/* Crediting the bytes also makes a CRNG that was not yet ready ready (it reseeds then). */
	if (ioctl(fd, RNDADDENTROPY, &request) != 0)
		return fail("RNDADDENTROPY", 3);
	if (ioctl(fd, RNDRESEEDCRNG) != 0)
		return fail("RNDRESEEDCRNG", 3);
	memset(&request, 0, sizeof(request));
	close(fd);

	char digits[12];
	say(1, "reseeded bytes=");
	say(1, decimal(digits, (unsigned int)count));
	say(1, "\n");
	return 0;
}
