# The jetsaga coordinator image (used by docker-compose.yml). Build: docker build -t jetsaga .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY machines ./machines
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production JETSAGA_DATA_DIR=/var/lib/jetsaga
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
RUN mkdir -p /var/lib/jetsaga && chown node:node /var/lib/jetsaga
USER node
VOLUME /var/lib/jetsaga
# The package bin: without src/ in the image it runs the compiled dist/.
ENTRYPOINT ["node", "--max-semi-space-size=64", "bin/jetsaga.js"]
CMD ["serve"]
