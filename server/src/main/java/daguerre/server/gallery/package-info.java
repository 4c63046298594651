/**
 * The image gallery: PNG files written atomically under the data directory, indexed in SQLite
 * with full-text search on prompts, cached thumbnails, favourites and deletion by opaque id.
 */
package daguerre.server.gallery;
