"""The page for clinic staff at /app: static HTML, CSS and plain JavaScript shipped in the
package (no build step, no CDN), under a strict Content-Security-Policy."""
