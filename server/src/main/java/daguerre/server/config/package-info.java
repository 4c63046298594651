/**
 * Configuration ({@link daguerre.server.config.ServeConfig} from flags, {@code DAGUERRE_*}
 * environment variables and a properties file) and the wiring of the service without HTTP
 * ({@link daguerre.server.config.ServiceCore}), shared by {@code serve} and {@code batch}.
 */
package daguerre.server.config;
