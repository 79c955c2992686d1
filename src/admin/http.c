/*
 * http.c
 *		The HTTP client of nicelogin: one request to NiceLogin over libcurl.
 *
 * This is the only file that includes curl.  nl_http_request() sends one
 * request and returns the HTTP status and body, or raises an ERROR with an
 * errcode.  It owns the rules every request follows:
 *
 *	- only http and https, no redirects, TLS peer and host verification;
 *	- plain http only to loopback hosts (127.0.0.0/8, ::1, localhost), checked
 *	  before any connection is made, and never through a proxy;
 *	- connect and total timeouts of nicelogin.http_timeout milliseconds;
 *	- answers larger than NL_HTTP_MAX_RESPONSE bytes are refused;
 *	- a query cancel, statement_timeout or termination stops the request
 *	  within NL_HTTP_POLL_MS and raises the real error (57014 for a cancel).
 *
 * The transfer is driven by a multi handle that we poll ourselves in short
 * slices, so interrupts are checked by CHECK_FOR_INTERRUPTS() outside of
 * libcurl: no longjmp ever crosses a curl frame.  For the same reason the
 * write callback collects the body with malloc, not palloc.  The request body
 * (which holds passwords, reset tokens or the API secret) never appears in a
 * message; URLs in messages are shown without user information.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <curl/curl.h>

#include "miscadmin.h"
#include "nodes/pg_list.h"

#include "nicelogin.h"
#include "admin/admin.h"

#ifndef NICELOGIN_VERSION
#define NICELOGIN_VERSION "1.0"
#endif

/* Largest answer we accept, in bytes. */
#define NL_HTTP_MAX_RESPONSE	(1024 * 1024)

/* Longest wait inside libcurl before interrupts are checked again, in ms. */
#define NL_HTTP_POLL_MS			100

/* One easy handle, reset before each request, and the multi handle that
 * drives it (and keeps the connection cache between requests). */
static CURL *nl_curl = NULL;
static CURLM *nl_multi = NULL;
static char nl_errbuf[CURL_ERROR_SIZE];

/*
 * The answer being received.  Filled by the write callback with malloc, so
 * that no error can be raised inside libcurl; static so that it survives a
 * longjmp to PG_FINALLY without volatile qualifiers.
 */
static struct
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		too_large;
	bool		out_of_memory;
}			nl_body;

static void nl_http_init(void);
static struct curl_slist *nl_http_headers(void);
static CURLU *nl_http_parse_url(const char *url, char **display);
static bool nl_host_is_loopback(const char *host);
static void nl_http_setup(const char *method, const char *body,
						  CURLU *cu, struct curl_slist *headers);
static CURLcode nl_http_perform(const char *display);
nl_noreturn static void nl_http_report(CURLcode rc, const char *display, CURLU *cu);
nl_noreturn static void nl_http_report_timeout(const char *display);
static char *nl_http_mask_credentials(char *reason, CURLU *cu);
static size_t nl_http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata);
static int	nl_http_progress_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
								curl_off_t ultotal, curl_off_t ulnow);

/* Sets one curl option; a refusal can only mean a libcurl without it. */
#define NL_SETOPT(opt, val) \
	do { \
		CURLcode	setopt_rc_ = curl_easy_setopt(nl_curl, (opt), (val)); \
		if (setopt_rc_ != CURLE_OK) \
			ereport(ERROR, \
					(errcode(ERRCODE_SYSTEM_ERROR), \
					 errmsg("could not set up an HTTP request"), \
					 errdetail("libcurl refused option %s: %s.", #opt, \
							   curl_easy_strerror(setopt_rc_)))); \
	} while (0)

/*
 * Sends one request.  method is "GET", "POST" or "PATCH"; body is a JSON text
 * (NULL for none).  Returns the HTTP status and appends the answer's body to
 * response.  Any failure to complete the exchange raises an ERROR.
 */
long
nl_http_request(const char *method, const char *url, const char *body,
				StringInfo response)
{
	CURLU	   *cu;
	char	   *display;
	struct curl_slist *volatile headers;
	long		status = 0;

	nl_http_init();

	/* Refuses bad URLs, other schemes and plain http to remote hosts. */
	cu = nl_http_parse_url(url, &display);

	/* Never raises; a NULL list (out of memory) is reported in the block. */
	headers = nl_http_headers();

	nl_body.data = NULL;
	nl_body.len = 0;
	nl_body.cap = 0;
	nl_body.too_large = false;
	nl_body.out_of_memory = false;

	PG_TRY();
	{
		CURLcode	rc;

		if (headers == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));

		nl_http_setup(method, body, cu, headers);

		rc = nl_http_perform(display);
		if (rc != CURLE_OK)
			nl_http_report(rc, display, cu);

		rc = curl_easy_getinfo(nl_curl, CURLINFO_RESPONSE_CODE, &status);
		if (rc != CURLE_OK || status < 100 || status > 599)
			ereport(ERROR,
					(errcode(ERRCODE_SYSTEM_ERROR),
					 errmsg("could not read the answer of NiceLogin at \"%s\"",
							display),
					 errdetail("The answer has no valid HTTP status.")));

		if (nl_body.len > 0)
			appendBinaryStringInfo(response, nl_body.data, (int) nl_body.len);
	}
	PG_FINALLY();
	{
		/* Removing the handle aborts a transfer still under way. */
		curl_multi_remove_handle(nl_multi, nl_curl);
		/* Drop our pointers into memory that is about to be freed. */
		curl_easy_reset(nl_curl);
		curl_slist_free_all(headers);
		curl_url_cleanup(cu);
		/* The answer may hold a reset token. */
		if (nl_body.data != NULL)
			explicit_bzero(nl_body.data, nl_body.len);
		free(nl_body.data);
		nl_body.data = NULL;
		nl_body.len = nl_body.cap = 0;
	}
	PG_END_TRY();

	return status;
}

/*
 * The request headers, or NULL when out of memory.  Every request says it
 * sends and accepts JSON; "Expect:" turns off curl's 100-continue wait.
 */
static struct curl_slist *
nl_http_headers(void)
{
	static const char *const lines[] = {
		"Content-Type: application/json",
		"Accept: application/json",
		"Expect:",
	};
	struct curl_slist *list = NULL;

	for (int i = 0; i < (int) lengthof(lines); i++)
	{
		struct curl_slist *next = curl_slist_append(list, lines[i]);

		if (next == NULL)
		{
			curl_slist_free_all(list);
			return NULL;
		}
		list = next;
	}
	return list;
}

/* Creates the global state and handles on first use in this backend. */
static void
nl_http_init(void)
{
	static bool global_done = false;

	if (!global_done)
	{
		CURLcode	rc = curl_global_init(CURL_GLOBAL_DEFAULT);

		if (rc != CURLE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_SYSTEM_ERROR),
					 errmsg("could not initialize libcurl"),
					 errdetail("%s.", curl_easy_strerror(rc))));
		global_done = true;
	}
	if (nl_curl == NULL)
	{
		nl_curl = curl_easy_init();
		if (nl_curl == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("Could not create a libcurl handle.")));
	}
	if (nl_multi == NULL)
	{
		nl_multi = curl_multi_init();
		if (nl_multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("Could not create a libcurl handle.")));
	}
}

/* Copies a curl-allocated string into palloc'd memory and frees it, on every path. */
static char *
nl_curl_strdup(char *s)
{
	size_t		len = strlen(s);
	char	   *r = palloc_extended(len + 1, MCXT_ALLOC_NO_OOM);

	if (r != NULL)
		memcpy(r, s, len + 1);
	curl_free(s);
	if (r == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return r;
}

/*
 * Applies the scheme and loopback rules to a parsed URL and sets *display,
 * the URL without user information, for messages.  Raises on a URL we refuse;
 * the caller owns (and on error frees) cu.
 */
static void
nl_http_check_url(CURLU *cu, char **display)
{
	CURLU	   *copy;
	char	   *part;
	char	   *scheme = NULL;
	char	   *host = NULL;

	/* The URL for messages: without user, password and login options. */
	copy = curl_url_dup(cu);
	if (copy != NULL)
	{
		CURLUcode	uc;

		curl_url_set(copy, CURLUPART_USER, NULL, 0);
		curl_url_set(copy, CURLUPART_PASSWORD, NULL, 0);
		curl_url_set(copy, CURLUPART_OPTIONS, NULL, 0);
		curl_url_set(copy, CURLUPART_FRAGMENT, NULL, 0);
		uc = curl_url_get(copy, CURLUPART_URL, &part, 0);
		curl_url_cleanup(copy);
		if (uc == CURLUE_OK)
			*display = nl_curl_strdup(part);
	}
	if (curl_url_get(cu, CURLUPART_SCHEME, &part, 0) == CURLUE_OK)
		scheme = nl_curl_strdup(part);
	if (curl_url_get(cu, CURLUPART_HOST, &part, 0) == CURLUE_OK)
		host = nl_curl_strdup(part);

	if (*display == NULL || scheme == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not parse the NiceLogin URL"),
				 errdetail("The URL has no scheme."),
				 errhint("Check nicelogin.base_url.")));

	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("unsupported URL scheme \"%s\" for NiceLogin at \"%s\"",
						scheme, *display),
				 errdetail("Only https, and http to loopback hosts, are supported."),
				 errhint("Set nicelogin.base_url to an https:// URL.")));

	if (host == NULL || host[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not parse the NiceLogin URL"),
				 errdetail("The URL has no host."),
				 errhint("Check nicelogin.base_url.")));

	if (strcmp(scheme, "http") == 0 && !nl_host_is_loopback(host))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("plain http is not allowed for NiceLogin at \"%s\"",
						*display),
				 errdetail("Plain http is allowed only to loopback hosts (127.0.0.0/8, ::1 and localhost)."),
				 errhint("Set nicelogin.base_url to an https:// URL.")));

	pfree(scheme);
	pfree(host);
}

/*
 * Parses url with libcurl's own parser (so the request goes exactly where we
 * checked), applies the scheme and loopback rules, and returns the parsed
 * handle.  *display is the URL without user information, for messages.  The
 * handle is freed on every error.
 */
static CURLU *
nl_http_parse_url(const char *url, char **display)
{
	CURLU	   *cu;
	CURLUcode	uc;

	*display = NULL;
	cu = curl_url();
	if (cu == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));

	uc = curl_url_set(cu, CURLUPART_URL, url, 0);
	if (uc != CURLUE_OK)
	{
		curl_url_cleanup(cu);
		/* The URL is not shown: it may hold credentials we cannot strip. */
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not parse the NiceLogin URL"),
#if LIBCURL_VERSION_NUM >= 0x075000
				 errdetail("%s.", curl_url_strerror(uc)),
#endif
				 errhint("Check nicelogin.base_url.")));
	}

	PG_TRY();
	{
		nl_http_check_url(cu, display);
	}
	PG_CATCH();
	{
		curl_url_cleanup(cu);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return cu;
}

/*
 * True for "localhost", an IPv4 address in 127.0.0.0/8 and the IPv6
 * loopback address.  host is as libcurl's URL parser returns it: IPv4
 * addresses normalized to dotted quads, IPv6 addresses in brackets.
 */
static bool
nl_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	size_t		len = strlen(host);

	if (pg_strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (len > 2 && host[0] == '[' && host[len - 1] == ']')
	{
		char	   *inner = pnstrdup(host + 1, len - 2);
		bool		result;

		result = inet_pton(AF_INET6, inner, &a6) == 1 &&
			IN6_IS_ADDR_LOOPBACK(&a6);
		pfree(inner);
		return result;
	}
	return false;
}

/* Sets every option of the request on the freshly reset easy handle. */
static void
nl_http_setup(const char *method, const char *body, CURLU *cu,
			  struct curl_slist *headers)
{
	bool		plain_http;
	char	   *scheme;

	curl_easy_reset(nl_curl);
	nl_errbuf[0] = '\0';

	NL_SETOPT(CURLOPT_ERRORBUFFER, nl_errbuf);
	NL_SETOPT(CURLOPT_NOSIGNAL, 1L);
	NL_SETOPT(CURLOPT_CURLU, cu);
#if LIBCURL_VERSION_NUM >= 0x075500
	NL_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	NL_SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	NL_SETOPT(CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
	NL_SETOPT(CURLOPT_REDIR_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	NL_SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	NL_SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	NL_SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	NL_SETOPT(CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
	NL_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long) nl_http_timeout);
	NL_SETOPT(CURLOPT_TIMEOUT_MS, (long) nl_http_timeout);
	NL_SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) NL_HTTP_MAX_RESPONSE);
	NL_SETOPT(CURLOPT_USERAGENT, "nicelogin/" NICELOGIN_VERSION);
	NL_SETOPT(CURLOPT_HTTPHEADER, headers);
	NL_SETOPT(CURLOPT_WRITEFUNCTION, nl_http_write_cb);
	NL_SETOPT(CURLOPT_WRITEDATA, NULL);
	NL_SETOPT(CURLOPT_NOPROGRESS, 0L);
	NL_SETOPT(CURLOPT_XFERINFOFUNCTION, nl_http_progress_cb);
	NL_SETOPT(CURLOPT_XFERINFODATA, NULL);

	/*
	 * Plain http goes only to loopback hosts, and never through a proxy from
	 * the environment (http_proxy), which would see the body in clear text.
	 */
	plain_http = false;
	if (curl_url_get(cu, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK)
	{
		plain_http = strcmp(scheme, "http") == 0;
		curl_free(scheme);
	}
	if (plain_http)
		NL_SETOPT(CURLOPT_PROXY, "");

	if (strcmp(method, "GET") == 0)
	{
		if (body != NULL)
			elog(ERROR, "a GET request to NiceLogin cannot have a body");
		NL_SETOPT(CURLOPT_HTTPGET, 1L);
	}
	else if (strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0)
	{
		if (body == NULL)
			body = "";
		NL_SETOPT(CURLOPT_POST, 1L);
		if (strcmp(method, "PATCH") == 0)
			NL_SETOPT(CURLOPT_CUSTOMREQUEST, "PATCH");
		NL_SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
		NL_SETOPT(CURLOPT_POSTFIELDS, body);
	}
	else
		elog(ERROR, "unsupported HTTP method \"%s\"", method);
}

/*
 * Runs the transfer to its end, checking for interrupts at least every
 * NL_HTTP_POLL_MS.  A signal (statement_timeout, cancel, terminate) also
 * wakes the poll at once.  Returns curl's result for the transfer.
 */
static CURLcode
nl_http_perform(const char *display)
{
	CURLMcode	mc;
	CURLMsg    *msg;
	int			left;

	mc = curl_multi_add_handle(nl_multi, nl_curl);
	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not set up an HTTP request"),
				 errdetail("%s.", curl_multi_strerror(mc))));

	for (;;)
	{
		int			running = 0;

		mc = curl_multi_perform(nl_multi, &running);
		if (mc != CURLM_OK)
			break;
		if (running == 0)
			break;

		/* Outside libcurl: a pending cancel raises its own error here. */
		CHECK_FOR_INTERRUPTS();

		mc = curl_multi_poll(nl_multi, NULL, 0, NL_HTTP_POLL_MS, NULL);
		if (mc != CURLM_OK)
			break;

		CHECK_FOR_INTERRUPTS();
	}
	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not reach NiceLogin at \"%s\"", display),
				 errdetail("%s.", curl_multi_strerror(mc))));

	while ((msg = curl_multi_info_read(nl_multi, &left)) != NULL)
	{
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == nl_curl)
			return msg->data.result;
	}
	ereport(ERROR,
			(errcode(ERRCODE_SYSTEM_ERROR),
			 errmsg("could not reach NiceLogin at \"%s\"", display),
			 errdetail("libcurl ended the transfer without a result.")));
	pg_unreachable();
}

/*
 * reason with the URL's user name and password (as written and decoded)
 * replaced by "********": curl's words about a failed transfer should not
 * carry them, but we do not rely on it.
 */
static char *
nl_http_mask_credentials(char *reason, CURLU *cu)
{
	static const CURLUPart parts[] = {CURLUPART_USER, CURLUPART_PASSWORD};

	for (int i = 0; i < (int) lengthof(parts); i++)
	{
		for (int decode = 0; decode <= 1; decode++)
		{
			char	   *part;
			char	   *cred;
			char	   *hit;

			if (curl_url_get(cu, parts[i], &part, decode ? CURLU_URLDECODE : 0) != CURLUE_OK)
				continue;
			cred = nl_curl_strdup(part);
			if (cred[0] != '\0')
			{
				size_t		from = 0;

				/* search after each mask, which may itself contain cred */
				while ((hit = strstr(reason + from, cred)) != NULL)
				{
					char	   *masked;

					*hit = '\0';
					masked = psprintf("%s********%s", reason, hit + strlen(cred));
					from = strlen(reason) + 8;
					explicit_bzero(hit + 1, strlen(hit + 1));
					pfree(reason);
					reason = masked;
				}
			}
			explicit_bzero(cred, strlen(cred));
			pfree(cred);
		}
	}
	return reason;
}

/*
 * Raises the error for a transfer that ran out of nicelogin.http_timeout,
 * saying how far it got (curl's counters are still those of the transfer):
 * no connection; a connection but no TLS session; a request sent and no
 * answer; or an answer that had begun (status known) and did not complete.
 * 57014 in every case, as for any other timeout.
 */
static void
nl_http_report_timeout(const char *display)
{
	curl_off_t	connect_us = 0;
	curl_off_t	appconnect_us = 0;
	curl_off_t	received = 0;
	long		status = 0;
	char	   *scheme = NULL;
	bool		tls;

	(void) curl_easy_getinfo(nl_curl, CURLINFO_CONNECT_TIME_T, &connect_us);
	(void) curl_easy_getinfo(nl_curl, CURLINFO_APPCONNECT_TIME_T, &appconnect_us);
	(void) curl_easy_getinfo(nl_curl, CURLINFO_SIZE_DOWNLOAD_T, &received);
	(void) curl_easy_getinfo(nl_curl, CURLINFO_RESPONSE_CODE, &status);
	tls = curl_easy_getinfo(nl_curl, CURLINFO_SCHEME, &scheme) == CURLE_OK &&
		scheme != NULL && pg_strcasecmp(scheme, "https") == 0;

	if (connect_us <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("could not connect to NiceLogin at \"%s\"", display),
				 errdetail("No connection was made within nicelogin.http_timeout (%d ms).",
						   nl_http_timeout),
				 errhint("Check nicelogin.base_url and the network, or raise nicelogin.http_timeout.")));
	if (tls && appconnect_us <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("could not set up TLS with NiceLogin at \"%s\"", display),
				 errdetail("A connection was made, but the TLS handshake did not complete within nicelogin.http_timeout (%d ms).",
						   nl_http_timeout),
				 errhint("Check nicelogin.base_url, or raise nicelogin.http_timeout.")));
	if (status == 0)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("NiceLogin at \"%s\" did not answer in time", display),
				 errdetail("A connection was made and the request sent, but no answer came within nicelogin.http_timeout (%d ms).",
						   nl_http_timeout),
				 errhint("NiceLogin was reached but is slow: raise nicelogin.http_timeout, or try again later.")));
	ereport(ERROR,
			(errcode(ERRCODE_QUERY_CANCELED),
			 errmsg("answer of NiceLogin at \"%s\" did not complete in time", display),
			 errdetail("NiceLogin answered with HTTP status %ld, but only %lld bytes of the body had arrived when nicelogin.http_timeout (%d ms) ran out.",
					   status, (long long) received, nl_http_timeout),
			 errhint("NiceLogin was reached but is slow: raise nicelogin.http_timeout, or try again later.")));
}

/*
 * Raises the error for a transfer that failed, with curl's reason in the
 * detail.  Never mentions the request body; credentials of the URL are
 * masked in curl's reason.
 */
static void
nl_http_report(CURLcode rc, const char *display, CURLU *cu)
{
	const char *reason;
	size_t		len;

	if (rc == CURLE_ABORTED_BY_CALLBACK)
	{
		/* The progress callback saw a pending interrupt: raise it. */
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling request to NiceLogin at \"%s\"", display),
				 errdetail("An interrupt arrived while the request was under way.")));
	}

	if (nl_body.out_of_memory)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not store the answer of NiceLogin at \"%s\".",
						   display)));

	if (nl_body.too_large || rc == CURLE_FILESIZE_EXCEEDED)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("answer of NiceLogin at \"%s\" is too large", display),
				 errdetail("Answers larger than %d bytes are refused.",
						   NL_HTTP_MAX_RESPONSE)));

	/* curl's own words, without a trailing newline or period. */
	reason = nl_errbuf[0] != '\0' ? nl_errbuf : curl_easy_strerror(rc);
	len = strlen(reason);
	while (len > 0 && (reason[len - 1] == '\n' || reason[len - 1] == '.'))
		len--;
	reason = nl_http_mask_credentials(pnstrdup(reason, len), cu);

	switch (rc)
	{
		case CURLE_OPERATION_TIMEDOUT:
			nl_http_report_timeout(display);
			break;

		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not resolve the host name of NiceLogin at \"%s\"", display),
					 errdetail("%s.", reason),
					 errhint("Check nicelogin.base_url and the database server's DNS settings.")));
			break;

		case CURLE_COULDNT_CONNECT:
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not connect to NiceLogin at \"%s\"", display),
					 errdetail("%s.", reason),
					 errhint("Check nicelogin.base_url and that NiceLogin can be reached from the database server.")));
			break;

		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("connection to NiceLogin at \"%s\" was lost", display),
					 errdetail("%s.", reason),
					 errhint("NiceLogin was reached; try again.")));
			break;

		case CURLE_OUT_OF_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("libcurl: %s.", reason)));
			break;

		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("could not reach NiceLogin at \"%s\"", display),
					 errdetail("%s.", reason),
					 errhint("Check nicelogin.base_url.")));
			break;

		case CURLE_PEER_FAILED_VERIFICATION:
#if LIBCURL_VERSION_NUM < 0x073e00
		case CURLE_SSL_CACERT:
#endif
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CONNECT_ERROR:
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not set up TLS with NiceLogin at \"%s\"", display),
					 errdetail("The TLS connection failed: %s.", reason),
					 errhint("Check nicelogin.base_url and the server's certificate.")));
			break;

		case CURLE_GOT_NOTHING:
		case CURLE_WEIRD_SERVER_REPLY:
		case CURLE_BAD_CONTENT_ENCODING:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
		case CURLE_PARTIAL_FILE:
			ereport(ERROR,
					(errcode(ERRCODE_SYSTEM_ERROR),
					 errmsg("could not read the answer of NiceLogin at \"%s\"",
							display),
					 errdetail("%s.", reason)));
			break;

		default:
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not reach NiceLogin at \"%s\"", display),
					 errdetail("%s.", reason),
					 errhint("Check nicelogin.base_url and the network.")));
			break;
	}
	pg_unreachable();
}

/*
 * Collects the answer's body.  Runs inside libcurl, so it never raises:
 * returning less than it was given makes curl abort with CURLE_WRITE_ERROR.
 */
static size_t
nl_http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	size_t		n = size * nmemb;

	if (n == 0)
		return 0;
	if (nl_body.len + n > NL_HTTP_MAX_RESPONSE)
	{
		nl_body.too_large = true;
		return 0;
	}
	if (nl_body.len + n > nl_body.cap)
	{
		size_t		newcap = Max(nl_body.cap * 2, (size_t) 8192);
		char	   *grown;

		while (newcap < nl_body.len + n)
			newcap *= 2;
		/* not realloc(): the old buffer, which may hold a reset token, is wiped first */
		grown = malloc(newcap);
		if (grown == NULL)
		{
			nl_body.out_of_memory = true;
			return 0;
		}
		if (nl_body.data != NULL)
		{
			memcpy(grown, nl_body.data, nl_body.len);
			explicit_bzero(nl_body.data, nl_body.cap);
			free(nl_body.data);
		}
		nl_body.data = grown;
		nl_body.cap = newcap;
	}
	memcpy(nl_body.data + nl_body.len, ptr, n);
	nl_body.len += n;
	return n;
}

/*
 * Stops the transfer when a cancel or termination is pending, so that the
 * caller can raise it with CHECK_FOR_INTERRUPTS().  Runs inside libcurl, so
 * it only reads flags.
 */
static int
nl_http_progress_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
					curl_off_t ultotal, curl_off_t ulnow)
{
	if ((QueryCancelPending || ProcDiePending) && INTERRUPTS_CAN_BE_PROCESSED())
		return 1;
	return 0;
}
